"""Prompt construction, exactly as the reference `chat()` builds it.

1. The first user turn of a video chat starts with one line per frame:
   "Frame1: <image>\\n" ... "FrameN: <image>\\n".
2. The conversation is rendered with the checkpoint's template (MPT style):
   system_template.format(system_message) + sep, then role + message + sep for every finished message,
   and finally the bare assistant role.
3. The first N "<image>" strings of the whole prompt (the first turn's) become
   "<img>" + "<IMG_CONTEXT>" × tokens_per_frame + "</img>". Later turns carry no video.

The turn ends with `template.sep.strip()` = "<|im_end|>" (not the eos of generation_config.json).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import ModelError

from .config import IMG_CONTEXT_TOKEN, IMG_END_TOKEN, IMG_START_TOKEN

IMAGE_PLACEHOLDER = "<image>"


@dataclass(frozen=True)
class ChatTemplate:
    """A conversation template of the reference `conversation.py` (MPT separator style)."""

    name: str
    system_template: str
    system_message: str
    roles: tuple[str, str]
    sep: str

    @property
    def stop_token(self) -> str:
        """The token that ends an assistant turn."""
        return self.sep.strip()

    def render(self, messages: Sequence[tuple[str, str | None]], system_message: str | None = None) -> str:
        """MPT style: system + sep, then role + message + sep per message; a None/empty message ends it."""
        system = self.system_message if system_message is None else system_message
        out = self.system_template.format(system_message=system) + self.sep
        for role, message in messages:
            # The reference tests `if message:`; an empty answer renders as a bare role too.
            out += role + message + self.sep if message else role
        return out


_SYSTEM_TEMPLATE = "<|im_start|>system\n{system_message}"
_ROLES = ("<|im_start|>user\n", "<|im_start|>assistant\n")

TEMPLATES: dict[str, ChatTemplate] = {
    "internvl2_5": ChatTemplate(
        name="internvl2_5",
        system_template=_SYSTEM_TEMPLATE,
        system_message="你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位联合开发的多模态大语言模型。",
        roles=_ROLES,
        sep="<|im_end|>\n",
    ),
    "internlm2-chat": ChatTemplate(
        name="internlm2-chat",
        system_template=_SYSTEM_TEMPLATE,
        system_message=(
            "你是由上海人工智能实验室联合商汤科技开发的书生多模态大模型，"
            "英文名叫InternVL, 是一个有用无害的人工智能助手。"
        ),
        roles=_ROLES,
        sep="<|im_end|>",
    ),
}


def get_template(name: str) -> ChatTemplate:
    """The template a checkpoint's config names; `ModelError` if unknown."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise ModelError(f"unknown chat template {name!r}; known: {sorted(TEMPLATES)}") from None


def video_question(question: str, num_frames: int) -> str:
    """The first user turn: "Frame1: <image>\\n" ... "Frame{N}: <image>\\n" followed by the question."""
    return "".join(f"Frame{i + 1}: {IMAGE_PLACEHOLDER}\n" for i in range(num_frames)) + question


def render_conversation(
    template: ChatTemplate,
    question: str,
    history: Sequence[tuple[str, str]] = (),
    system_message: str | None = None,
) -> str:
    """Prompt text (before image expansion) for `question` after the (question, answer) pairs of `history`."""
    user, assistant = template.roles
    messages: list[tuple[str, str | None]] = []
    for old_question, old_answer in history:
        messages += [(user, old_question), (assistant, old_answer)]
    messages += [(user, question), (assistant, None)]
    return template.render(messages, system_message)


def expand_image_tokens(prompt: str, num_frames: int, tokens_per_frame: int) -> str:
    """Replace the first `num_frames` "<image>" strings by <img><IMG_CONTEXT>×tokens_per_frame</img>."""
    if num_frames and prompt.count(IMAGE_PLACEHOLDER) < num_frames:
        raise ModelError(
            f"the prompt has {prompt.count(IMAGE_PLACEHOLDER)} {IMAGE_PLACEHOLDER} placeholders "
            f"for {num_frames} frames"
        )
    block = IMG_START_TOKEN + IMG_CONTEXT_TOKEN * tokens_per_frame + IMG_END_TOKEN
    return prompt.replace(IMAGE_PLACEHOLDER, block, num_frames)


def build_prompt(
    template: ChatTemplate,
    question: str,
    num_frames: int,
    tokens_per_frame: int,
    history: Sequence[tuple[str, str]] = (),
    system_message: str | None = None,
) -> str:
    """The full prompt string of a video chat turn, ready to tokenize.

    `question` and the questions in `history` are the user's plain text. The video prefix goes in front of
    the first question of the conversation (the first history entry, or `question` when history is empty),
    so only the first turn carries the video, as in the reference.
    """
    if num_frames < 0:
        raise ValueError("num_frames must be >= 0")
    if history:
        first_q, first_a = history[0]
        turns = [(video_question(first_q, num_frames), first_a), *history[1:]]
        text = render_conversation(template, question, turns, system_message)
    else:
        text = render_conversation(template, video_question(question, num_frames), (), system_message)
    return expand_image_tokens(text, num_frames, tokens_per_frame)


def postprocess_answer(text: str, stop_token: str) -> str:
    """The reference `chat()` answer: the decoded text before the first stop token, stripped."""
    return text.split(stop_token)[0].strip()
