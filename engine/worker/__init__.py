"""The engine as a service: `python -m engine.worker`, the desktop window's back end.

A long-lived process that speaks JSON lines on stdin/stdout (docs/protocol.md). It holds loaded models,
opened videos, conversations and trackers behind handles, runs every long call as a job with progress,
partial results and cancellation (engine/jobs.py), and turns every failure into an error event, so a
bug, a bad file or an out-of-memory error never ends the process, and a crash of the process never
takes the window down.

    worker = WorkerProcess(["--model", "models/InternVideo2_5"])     # engine.worker.client
    video = worker.call("open_video", path="harbour.mp4")["video"]
    for event in worker.stream("ask", video=video, question="What happens?"):
        ...                                                           # progress, partial text, result

server.py reads and dispatches; handlers.py holds the table of request types and the handlers of the
worker itself (hello, status, configure, open_video, models_*), handlers_ask.py, handlers_track.py and
handlers_export.py those of the LLM, SAM2 and the exports, each given a context.py `Context`; state.py
holds the models and handles, protocol.py the wire format, client.py a small Python client (tests, scripts).
"""
