"""Tiny random models in the exact folder layout of the published ones, so everything runs on a CPU.

    python -m tests.tiny_models sam2 DIR

SAM2 is written as `facebook/sam2.1-hiera-*` publishes its transformers weights: `config.json`
(`Sam2VideoConfig`, model_type `sam2_video`), `model.safetensors`, `processor_config.json` and
`video_preprocessor_config.json`. The architecture is the real one, shrunk (1.4 M parameters, 256 px
input, 7 mask memories and 16 object pointers as in SAM 2.1). Its weights are random but fixed by a
seed, and nudged so that masks are neither empty nor full and change with the clicks and the frames
(freshly initialised SAM2 weights predict "no object" everywhere, which would make tests vacuous), and
are blobs with smooth edges as real SAM2 masks are, not a random checkerboard (which would make the
RLE results of benchmarks a few times larger than real ones).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

IMAGE_SIZE = 256
HIDDEN = 128  # > 64: the memory attention's 64-channel inputs need a wider model dim
SEED = 0
NUDGE = 0.05  # std of the noise added to every parameter, zero-initialised ones included


def sam2_config(num_maskmem: int = 7, max_object_pointers: int = 16):
    """The tiny architecture; memory sizes default to SAM 2.1's (smaller ones make pruning show sooner)."""
    from transformers import Sam2VideoConfig

    s, d = IMAGE_SIZE, HIDDEN
    return Sam2VideoConfig(
        vision_config={
            "model_type": "sam2_vision_model",
            "backbone_config": {
                "model_type": "sam2_hiera_det_model",
                "hidden_size": 16,
                "image_size": [s, s],
                "blocks_per_stage": [1, 2, 2, 1],
                "embed_dim_per_stage": [16, 32, 64, 128],
                "num_attention_heads_per_stage": [1, 1, 2, 2],
                "window_size_per_stage": [8, 4, 8, 4],
                "global_attention_blocks": [4],  # never the first block of a stage
                "window_positional_embedding_background_size": [4, 4],
            },
            "backbone_channel_list": [128, 64, 32, 16],
            "backbone_feature_sizes": [[s // 4, s // 4], [s // 8, s // 8], [s // 16, s // 16]],
            "fpn_hidden_size": d,
        },
        prompt_encoder_config={"hidden_size": d, "image_size": s, "patch_size": 16, "mask_input_channels": 4},
        mask_decoder_config={
            "hidden_size": d,
            "mlp_dim": 64,
            "num_attention_heads": 2,
            "iou_head_hidden_dim": d,
        },
        image_size=s,
        memory_attention_hidden_size=d,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=[s // 16, s // 16],
        memory_encoder_hidden_size=d,
        memory_encoder_output_channels=64,  # the memory cross-attention hard-wires 64
        mask_downsampler_embed_dim=d,
        memory_fuser_embed_dim=d,
        memory_fuser_intermediate_dim=64,
        num_maskmem=num_maskmem,
        max_object_pointers_in_encoder=max_object_pointers,
    )


def write_sam2(folder: str | Path, **config) -> Path:
    """Write the tiny SAM2 video model to `folder` (created) and return it. `config`: see `sam2_config`."""
    import torch
    from transformers import Sam2VideoModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    model = Sam2VideoModel(sam2_config(**config)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * NUDGE)
        for module in model.modules():  # random 2x2 transposed convolutions paint a checkerboard; real
            if isinstance(module, torch.nn.ConvTranspose2d):  # masks are blobs, so make them upsample evenly
                module.weight.copy_(module.weight.mean(dim=(2, 3), keepdim=True).expand_as(module.weight))
    model.save_pretrained(folder, safe_serialization=True)
    processor = {"processor_class": "Sam2VideoProcessor", "target_size": IMAGE_SIZE, "point_pad_value": -10}
    video_preprocessor = {
        "video_processor_type": "Sam2VideoVideoProcessor",
        "do_resize": True,
        "size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        "resample": 2,  # bilinear
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225],
    }
    (folder / "processor_config.json").write_text(json.dumps(processor, indent=2), encoding="utf-8")
    (folder / "video_preprocessor_config.json").write_text(
        json.dumps(video_preprocessor, indent=2), encoding="utf-8"
    )
    return folder


BUILDERS = {"sam2": write_sam2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.tiny_models", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(BUILDERS))
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    folder = BUILDERS[args.kind](args.folder)
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
