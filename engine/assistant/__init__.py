"""Ask questions about a video: the engine API the GUI worker, the CLI and grounding use (no Qt).

    assistant = VideoAssistant.load("OpenGVLab/InternVideo2_5_Chat_8B")      # or a local folder
    video = assistant.open_video("clip.mp4", Sampling("frames", 128))          # VideoContext
    chat = video.conversation()
    answer = chat.ask("What happens?", on_text=print_piece)                    # streamed
    answer.text, answer.frames.to_list(), answer.cache_hit, answer.timings_s
    chat.ask("And then?")                                # only the new turn is prefilled

Opening a video probes it, samples frames (multiples of 4), and reads their visual tokens from the on-disk
cache, or decodes just those frames at 448x448 while encoding earlier ones, then stores them. A second
question, a new conversation or a new process about the same video and sampling runs no vision-tower pass.
Cancellation: `threading.Event`s for `open_video` (raises `InterruptedError`) and for answers (ends the
answer with finish_reason "cancelled").
"""

from engine.assistant.assistant import DEFAULT_SAMPLING, VideoAssistant, VideoContext
from engine.assistant.conversation import Answer, Conversation
from engine.assistant.encode import EncodedVideo, encode_images, encode_video
from engine.questions import DEFAULT_MAX_NEW_TOKENS

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
