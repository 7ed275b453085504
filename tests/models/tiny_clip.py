"""Tiny random transformers CLIP, X-CLIP and dual-encoder models, saved as a user's folder would be.

The tokenizer is written here too (vocab.json + merges.txt for CLIPTokenizer): CLIP's
byte-level alphabet, each byte alone and word-final, the two special tokens, and merges that
join the letters of a small English vocabulary (colours, shapes, motions, function words) into
word tokens, so every caption tokenizes without any downloaded file. The dual encoder
(:func:`save_tiny_dual_encoder`) uses the BERT tokenizer of the packaged MiniLM instead.
"""

from __future__ import annotations

import json
from pathlib import Path


def _byte_alphabet() -> list[str]:
    """CLIP's (GPT-2's) reversible byte -> unicode map, in byte order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = [], 0
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


#: Words merged into tokens of their own (other words are spelt in smaller pieces).
WORDS = ("a an the of on in and then to from with is video background left right up down around moves move "
         "grows shrinks spins blinks appears disappears bigger smaller red green blue yellow orange purple cyan "
         "white black grey navy dark light circle square triangle star cross diamond").split()


def _merges() -> list[tuple[str, str]]:
    """Left-to-right merges spelling each of :data:`WORDS` (word-final letter marked ``</w>``)."""
    merges: list[tuple[str, str]] = []
    for word in WORDS:
        left = word[0]
        for i, char in enumerate(word[1:], 1):
            pair = (left, char + ("</w>" if i == len(word) - 1 else ""))
            if pair not in merges:
                merges.append(pair)
            left += char
    return merges


def write_tokenizer(folder: Path) -> int:
    """vocab.json and merges.txt of a byte-level CLIP tokenizer; returns the vocabulary size."""
    alphabet = _byte_alphabet()
    merges = _merges()
    tokens = alphabet + [c + "</w>" for c in alphabet]
    tokens += list(dict.fromkeys(a + b for a, b in merges if a + b not in tokens))
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    lines = ["#version: 0.2", *(f"{a} {b}" for a, b in merges)]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(tokens)


def tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))


def image_processor(size: int):
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})


def text_config(vocab: int, width: int = 32) -> dict:
    return dict(vocab_size=vocab, hidden_size=width, intermediate_size=2 * width, num_hidden_layers=2,
                num_attention_heads=2,
                max_position_embeddings=40, bos_token_id=vocab - 2, eos_token_id=vocab - 1, pad_token_id=vocab - 1)


def save_tiny_clip(folder: Path, *, seed: int = 0, image_size: int = 32, embed: int = 16, width: int = 32) -> Path:
    """A random CLIPModel (ViT patch 8 at ``image_size`` px, towers ``width`` wide) with its
    processor, in ``folder``."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = write_tokenizer(folder)
    config = CLIPConfig(
        text_config=text_config(vocab, width),
        vision_config=dict(hidden_size=width, intermediate_size=2 * width, num_hidden_layers=2, num_attention_heads=2,
                           image_size=image_size, patch_size=8),
        projection_dim=embed,
    )
    torch.manual_seed(seed)
    CLIPModel(config).save_pretrained(folder)
    CLIPProcessor(image_processor=image_processor(image_size), tokenizer=tokenizer(folder)).save_pretrained(folder)
    return folder


def save_tiny_xclip(folder: Path, *, seed: int = 0, image_size: int = 32, num_frames: int = 8) -> Path:
    """A random XCLIPModel (``num_frames`` frames per video) with its processor, in ``folder``."""
    import torch
    from transformers import VideoMAEImageProcessor, XCLIPConfig, XCLIPModel, XCLIPProcessor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = write_tokenizer(folder)
    config = XCLIPConfig(
        text_config=text_config(vocab),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=image_size, patch_size=8, num_frames=num_frames, mit_hidden_size=32,
                           mit_intermediate_size=64, mit_num_hidden_layers=1, mit_num_attention_heads=2),
        projection_dim=32, prompt_layers=1, prompt_attention_heads=2, prompt_projection_dropout=0.0,
    )
    torch.manual_seed(seed)
    XCLIPModel(config).save_pretrained(folder)
    processor = VideoMAEImageProcessor(size={"shortest_edge": image_size},
                                       crop_size={"height": image_size, "width": image_size})
    XCLIPProcessor(image_processor=processor, tokenizer=tokenizer(folder)).save_pretrained(folder)
    return folder


def save_tiny_dual_encoder(folder: Path, *, seed: int = 0, image_size: int = 32, embed: int = 16, width: int = 32,
                           vision_layers: int = 2, pretrained_text: bool = False) -> Path:
    """A VisionTextDualEncoderModel with its processor, in ``folder``: a random CLIP vision tower
    (ViT patch 8 at ``image_size`` px, ``width`` wide) and a BERT text tower with the packaged
    MiniLM's tokenizer: MiniLM itself (its pretrained weights) with ``pretrained_text``, else a
    random 2-layer BERT ``width`` wide. The projections and the temperature are new (random)."""
    import torch
    from transformers import (BertConfig, BertModel, BertTokenizerFast, CLIPVisionConfig, CLIPVisionModel,
                              VisionTextDualEncoderConfig, VisionTextDualEncoderModel,
                              VisionTextDualEncoderProcessor)

    from tempvl_core.model.text_encoder import default_text_encoder_path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    minilm = default_text_encoder_path()
    torch.manual_seed(seed)
    vision = CLIPVisionModel(CLIPVisionConfig(hidden_size=width, intermediate_size=2 * width,
                                              num_hidden_layers=vision_layers, num_attention_heads=2,
                                              image_size=image_size, patch_size=8))
    if pretrained_text:
        text = BertModel.from_pretrained(str(minilm), local_files_only=True, use_safetensors=True)
    else:
        text = BertModel(BertConfig(vocab_size=30522, hidden_size=width, intermediate_size=2 * width,
                                    num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=64))
    config = VisionTextDualEncoderConfig.from_vision_text_configs(vision.config, text.config, projection_dim=embed)
    model = VisionTextDualEncoderModel(config)
    # The towers are loaded after building: the model's own initialisation must not touch MiniLM.
    model.vision_model.load_state_dict(vision.state_dict())
    model.text_model.load_state_dict(text.state_dict())
    model.save_pretrained(folder)
    tokenizer = BertTokenizerFast.from_pretrained(str(minilm), local_files_only=True)
    processor = VisionTextDualEncoderProcessor(image_processor=image_processor(image_size), tokenizer=tokenizer)
    processor.save_pretrained(folder)
    return folder
