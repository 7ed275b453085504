"""Running one task: the run types, the runner and its lifecycle, models and checkpoints, video
clips and their encoding (cache, shards, feature stores), finetuning, the run folder and its
fingerprint, evidence against baselines, distributed ranks and interrupts."""
