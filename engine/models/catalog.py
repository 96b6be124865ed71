"""The model variants Scenescope supports: their Hub ids, the commits they are pinned to, their sizes.

Every variant is pinned to a commit:
- OpenGVLab/InternVideo2_5_Chat_8B at 6dd8f38 (the loader's pin; four bf16 shards of 4.94 + 4.92 +
  4.92 + 2.03 GB in the Hub's tree listing);
- facebook/sam2.1-hiera-tiny at de431c4 (the tracker's pin, the repo's main branch in February 2026 with
  the transformers weights); its size is an estimate: parameters (the SAM2 README) x 4 bytes of float32;
- facebook/sam2.1-hiera-small at ee5bba1, -base-plus at b732075 and -large at 665f8e2: the commits that
  public projects load with transformers (`from_pretrained(..., revision=...)`) and whose file lists they
  pin with byte counts and SHA-256s: model.safetensors 184,305,280, 323,476,296 and 897,897,416 bytes
  (the sizes below). The same four commits are listed together, with de431c4 for tiny, in one public
  model catalog; small's weights are also published, byte-identical, at e07df6a.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import ModelError
from engine.models.hub import HubModel

# What each loader takes from the Hub (torch-free here, so `models list` and `doctor` start fast).
INTERNVIDEO_HUB = HubModel(
    name="InternVideo2.5",
    default_id="OpenGVLab/InternVideo2_5_Chat_8B",
    # newest commit of the published repo we know of (weights unchanged since the initial upload)
    pins={"OpenGVLab/InternVideo2_5_Chat_8B": "6dd8f382d8bc69bd812194b93470754c279b6d3b"},
    files=(  # everything the loader reads (about 17 GB for the 8B); code files are never fetched
        "config.json",
        "generation_config.json",
        "model.safetensors.index.json",
        "*.safetensors",
        "tokenizer.model",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
    ),
)
SAM2_HUB = HubModel(
    name="SAM2",
    default_id="facebook/sam2.1-hiera-tiny",
    # the repo's main branch in February 2026, with the transformers weights (config.json, model.safetensors)
    pins={
        "facebook/sam2.1-hiera-tiny": "de431c4043854a71d8101e17995dfe596bf101a5",
        "facebook/sam2.1-hiera-small": "ee5bba1d82bb8749febdf90f45e84b687142ba03",
        "facebook/sam2.1-hiera-base-plus": "b7320756a13354e7530a63935656d35b2f91a290",
        "facebook/sam2.1-hiera-large": "665f8e2ad61cf5f53d65644ff27c8ee525124610",
    },
    files=("*.json", "*.safetensors"),  # configs and weights; never code or pickles
)


@dataclass(frozen=True)
class Variant:
    """One downloadable model: what it is, where it comes from, about how big it is."""

    name: str  # what the commands take: "internvideo2.5-8b", "sam2.1-tiny"
    family: str  # "internvideo" or "sam2": which loader reads it
    repo_id: str
    revision: str  # the pinned commit
    size_bytes: int  # the data files the loader reads, about
    hub: HubModel  # the file patterns fetched
    summary: str

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "family": self.family,
            "repo_id": self.repo_id,
            "revision": self.revision,
            "size_bytes": self.size_bytes,
            "summary": self.summary,
        }


def _sam2(size: str, params_m: float, weights_bytes: int | None = None) -> Variant:
    """A SAM 2.1 size at its pinned commit; `weights_bytes`: its model.safetensors, where published
    (else parameters x 4 bytes)."""
    repo_id = f"facebook/sam2.1-hiera-{size}"
    return Variant(
        name=f"sam2.1-{size}",
        family="sam2",
        repo_id=repo_id,
        revision=SAM2_HUB.pins[repo_id],
        size_bytes=weights_bytes or int(params_m * 1e6 * 4),
        hub=SAM2_HUB,
        summary=f"SAM 2.1 Hiera-{size} ({params_m:g} M parameters): tracks objects through the video",
    )


CATALOG: tuple[Variant, ...] = (
    Variant(
        name="internvideo2.5-8b",
        family="internvideo",
        repo_id="OpenGVLab/InternVideo2_5_Chat_8B",
        revision=INTERNVIDEO_HUB.pins["OpenGVLab/InternVideo2_5_Chat_8B"],
        size_bytes=int((4.94 + 4.92 + 4.92 + 2.03) * 1e9),
        hub=INTERNVIDEO_HUB,
        summary="InternVideo2.5 Chat 8B: answers questions about the video and finds moments",
    ),
    _sam2("tiny", 38.9),
    _sam2("small", 46.0, 184_305_280),
    _sam2("base-plus", 80.8, 323_476_296),
    _sam2("large", 224.4, 897_897_416),
)
DEFAULTS = {"internvideo": "internvideo2.5-8b", "sam2": "sam2.1-tiny"}  # what ask and track load


def variant(name: str) -> Variant:
    """The catalog entry named `name` (or its Hub id); a `ModelError` listing the names otherwise."""
    for entry in CATALOG:
        if name in (entry.name, entry.repo_id):
            return entry
    names = ", ".join(entry.name for entry in CATALOG)
    raise ModelError(f"no model called {name!r}; the models are: {names} (see `scenescope models list`)")
