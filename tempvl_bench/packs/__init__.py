"""Running moment retrieval and action localization from feature packs (``--features DIR``).

- :mod:`.source`: the run's feature source (task file ``features:`` block, ``--features``, the
  pack's manifest), its fingerprint and its provenance in results.json;
- :mod:`.loader`: batches of pack rows in place of decoded frames (the ``ctx.clips`` of a pack run);
- :mod:`.extract`: ``tempvl-bench extract-features``, which writes packs from videos.

Layouts, presets, time bases and the checked reader are the library's
(:mod:`tempvl_core.data.features`).
"""
