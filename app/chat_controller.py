"""The chat's state: the turns of the open video's chat, the worker's conversation they continue, and
the answer streaming now. Widgets draw it (app/chat_panel.py); it talks to the engine only through the
worker client.

    chat = ChatController(window.worker, window.sessions)
    chat.set_video(info, "video-1")        # after open_video; restores the session's chat, no model run
    chat.set_selected_span(12.0, 18.5)     # the timeline/moments selection; set_selected_span(None)
    chat.ask("Who enters?", "span")        # "video", "span" or "view"; a follow-up continues the conversation
    chat.look_closer(12.0, 18.5, turn)     # the same question about one span, its frames denser
    chat.new_conversation()                # the next question starts over (the video stays encoded)

A follow-up goes to the worker's conversation (only the new turn is prefilled, no vision pass); a question
with another scope starts a conversation with that scope's sampling. New conversation forgets the
conversation but not the video handle, whose visual tokens the worker keeps per sampling, so the next
question runs no vision pass either. Every finished, cancelled or failed turn is written to the session
(`session.chat`) and the session marked dirty; reopening shows it all without asking the worker anything.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from app.chat_turn import ChatTurn, Scope
from app.session_controller import SessionController
from app.worker_client import Call, WorkerClient
from engine.jobs import Progress
from engine.spans import Span
from engine.video import VideoInfo
from engine.video.sampling import DEFAULT_FRAMES

PROGRESS_NAMES = {
    "load": "Loading the model",
    "download": "Downloading the model",
    "encode": "Encoding frames",
    "answer": "Answering",
}
MODEL = "internvideo"  # the model the chat needs, as `model_setup_requested` names it


class ChatController(QObject):
    changed = Signal(int)  # the turn at this index changed; -1: the whole chat (opened, cleared)
    busy_changed = Signal(bool)  # an answer is streaming
    seek_requested = Signal(float)  # a time link or a frame thumbnail was clicked
    moment_proposed = Signal(object)  # engine.spans.Span: "make a moment" on a span link
    model_setup_requested = Signal(str)  # the model is missing or damaged: open its setup (MODEL)

    def __init__(
        self,
        worker: WorkerClient,
        sessions: SessionController | None = None,
        view_range: Callable[[], tuple[float, float]] | None = None,
        frame_budget: Callable[[], int] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.worker, self.sessions = worker, sessions
        self._view_range = view_range
        self._frame_budget = frame_budget or (lambda: DEFAULT_FRAMES)
        self.info: VideoInfo | None = None
        self.video: str | None = None  # the worker's handle of the open video
        self.turns: list[ChatTurn] = []
        self.selected_span: tuple[float, float] | None = None
        self.conversation: str | None = None  # the worker's conversation the next follow-up continues
        self._conversation_scope: Scope | None = None
        self.call: Call | None = None  # the ask running now
        self._session = None  # the session the turns belong to (another one may open before a video shows)
        self.progress = ""  # what the running ask is doing: "Loading the model 3/10", "Encoding frames 8/16"
        self.max_new_tokens: int | None = None  # None: the engine's default answer length
        self.asks = 0  # ask requests sent (tests count them: a restored chat sends none)

    # ----- the video ----------------------------------------------------------------------------------------
    def set_video(self, info: VideoInfo, handle: str) -> None:
        """A video was opened (or opened again after an engine restart): its session's chat is shown as
        saved; the worker's old conversations are gone, so the next question starts a new one."""
        if self.call is not None:  # an answer about the video before: it belongs to nothing shown now
            self.worker.cancel(self.call)
            self.call, self.progress = None, ""
            self.busy_changed.emit(False)
        self.info, self.video = info, handle
        self.conversation, self._conversation_scope = None, None
        self.selected_span = None
        self._session = self.sessions.session if self.sessions is not None else None
        saved = self._session.chat if self._session is not None else []
        self.turns = [ChatTurn.from_dict(turn) for turn in saved]
        self.changed.emit(-1)

    def set_selected_span(self, start_s: float | None, end_s: float | None = None) -> None:
        """The span selected on the timeline or in the moments list (the "Selected span" scope);
        `set_selected_span(None)`: nothing is selected."""
        if start_s is None or end_s is None or end_s == start_s:
            self.selected_span = None
        else:
            self.selected_span = (min(start_s, end_s), max(start_s, end_s))

    @property
    def busy(self) -> bool:
        return self.call is not None

    # ----- asking -------------------------------------------------------------------------------------------
    def scope(self, kind: str) -> Scope | None:
        """The stretch a scope stands for now; None when it has none (no span selected, no video)."""
        if self.info is None:
            return None
        if kind == "span":
            return None if self.selected_span is None else Scope("span", *self.selected_span)
        if kind == "view" and self._view_range is not None:
            start, end = self._view_range()
            if start <= 0 and end >= self.info.duration_s:
                return Scope()  # the whole video is visible: the same frames as asking about all of it
            return Scope("view", max(0.0, start), min(self.info.duration_s, end))
        return Scope()

    def ask(self, question: str, scope_kind: str = "video") -> bool:
        """Ask about the open video; False (nothing sent) without a video, a question or a scope, or
        while an answer streams."""
        scope = self.scope(scope_kind)
        question = question.strip()
        if self.busy or self.video is None or scope is None or not question:
            return False
        if self.conversation is not None and scope == self._conversation_scope:
            self._send(ChatTurn(question, scope, conversation_start=False), conversation=self.conversation)
        else:
            self._start_conversation(question, scope)
        return True

    def look_closer(self, start_s: float, end_s: float, turn: int) -> bool:
        """Ask turn `turn`'s question again about [start_s, end_s] only: the same frame budget over the
        span, so its frames lie closer together (the zoom-in of shared/docs/peers.md §6.3)."""
        if self.busy or self.video is None or not 0 <= turn < len(self.turns) or end_s <= start_s:
            return False
        self._start_conversation(self.turns[turn].question, Scope("span", start_s, end_s))
        return True

    def new_conversation(self) -> None:
        """Start over: the next question opens a new conversation (the worker keeps the video's tokens)."""
        if self.conversation is not None:
            self.worker.request("close", handle=self.conversation)
        self.conversation, self._conversation_scope = None, None
        self.changed.emit(-1)

    def cancel(self) -> None:
        if self.call is not None:
            self.worker.cancel(self.call)

    def propose_moment(self, start_s: float, end_s: float, turn: int) -> None:
        """ "Make a moment" on a span link: a Span with the question as its query."""
        question = self.turns[turn].question if 0 <= turn < len(self.turns) else None
        self.moment_proposed.emit(Span(start_s, end_s, source="text", label="chat", query=question))

    def _start_conversation(self, question: str, scope: Scope) -> None:
        if self.conversation is not None:
            self.worker.request("close", handle=self.conversation)
        self.conversation, self._conversation_scope = None, scope
        sampling = {"mode": "frames", "value": self._frame_budget(), **scope.sampling_range()}
        self._send(ChatTurn(question, scope), video=self.video, sampling=sampling)

    def _send(self, turn: ChatTurn, **fields) -> None:
        self.turns.append(turn)
        index = len(self.turns) - 1
        if self.max_new_tokens is not None:
            fields["max_new_tokens"] = self.max_new_tokens
        self.call = call = self.worker.request("ask", question=turn.question, **fields)
        self.asks += 1
        # Events of a call that is no longer this chat's (another video opened) are dropped.
        call.partial.connect(lambda kind, data: call is self.call and self._piece(index, kind, data))
        call.progress.connect(lambda progress: call is self.call and self._progress(index, progress))
        call.finished.connect(lambda data: call is self.call and self._answered(index, data))
        call.failed.connect(lambda error: call is self.call and self._failed(index, error))
        self.changed.emit(index)
        self.busy_changed.emit(True)

    def _piece(self, index: int, kind: str, data: dict) -> None:
        if kind == "text":
            self.turns[index].text += str(data.get("text", ""))
            self.changed.emit(index)

    def _progress(self, index: int, progress: Progress) -> None:
        name = PROGRESS_NAMES.get(progress.stage, progress.stage.capitalize())
        amount = f" {progress.done:g}/{progress.total:g}" if progress.total else ""
        self.progress = progress.message if progress.stage == "load" and progress.message else name + amount
        self.changed.emit(index)

    def _answered(self, index: int, data: dict) -> None:
        turn = self.turns[index]
        turn.answer = data["answer"]
        turn.text, turn.state = turn.answer["answer"], "done"
        self.conversation = data["conversation"]
        self._ended(index)

    def _failed(self, index: int, error: dict) -> None:
        turn = self.turns[index]
        turn.state = "cancelled" if error.get("code") == "cancelled" else "failed"
        if turn.state == "failed":  # the conversation may be gone (an engine restart, a model unloaded)
            turn.error = {k: error.get(k) for k in ("code", "message", "hint")}
            self.conversation, self._conversation_scope = None, None
        self._ended(index)

    def request_model_setup(self) -> None:
        self.model_setup_requested.emit(MODEL)

    def _ended(self, index: int) -> None:
        self.call, self.progress = None, ""
        self._save()
        self.changed.emit(index)
        self.busy_changed.emit(False)

    def _save(self) -> None:
        if self._session is not None and self.sessions.session is self._session:
            self._session.chat = [turn.to_dict() for turn in self.turns]
            self.sessions.keeper.mark_dirty()
