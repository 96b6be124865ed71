"""Ask questions about a video: the engine API the GUI worker, the CLI and grounding use (no Qt).

    assistant = VideoAssistant.load("OpenGVLab/InternVideo2_5_Chat_8B")      # or a local folder
    video = assistant.open_video("clip.mp4", Sampling("frames", 128))          # VideoContext
    chat = video.conversation()
    answer = chat.ask("What happens?", Job(on_partial=show_piece))             # streamed
    answer.text, answer.frames.to_list(), answer.cache_hit, answer.timings_s
    chat.ask("And then?")                                # only the new turn is prefilled

Opening a video probes it, samples frames (multiples of 4), and reads their visual tokens from the on-disk
cache, or decodes just those frames at 448x448 while encoding earlier ones, then stores them. A second
question, a new conversation or a new process about the same video and sampling runs no vision-tower pass.
Progress, streamed text and cancellation go through an `engine.jobs.Job`; a cancelled call raises
`engine.jobs.Cancelled`.
"""

from typing import TYPE_CHECKING

from engine.assistant.conversation import Answer, Conversation
from engine.lazy import lazy_attributes
from engine.questions import DEFAULT_MAX_NEW_TOKENS
from engine.video import Sampling
from engine.video.sampling import DEFAULT_FRAMES

if TYPE_CHECKING:
    from engine.assistant.assistant import VideoAssistant, VideoContext
    from engine.assistant.encode import EncodedVideo, encode_images, encode_video

DEFAULT_SAMPLING = Sampling("frames", DEFAULT_FRAMES)

# The model side imports torch (seconds); answers and the window that shows them need neither, so those
# names load on first use.
_MODEL_SIDE = {
    "VideoAssistant": "engine.assistant.assistant",
    "VideoContext": "engine.assistant.assistant",
    "EncodedVideo": "engine.assistant.encode",
    "encode_images": "engine.assistant.encode",
    "encode_video": "engine.assistant.encode",
}

__getattr__ = lazy_attributes(__name__, _MODEL_SIDE)


__all__ = [
    "DEFAULT_MAX_NEW_TOKENS",
    "DEFAULT_SAMPLING",
    "Answer",
    "Conversation",
    "EncodedVideo",
    "VideoAssistant",
    "VideoContext",
    "encode_images",
    "encode_video",
]
