"""The status bar's engine part: the device, the memory planner's choice and the running job."""

from __future__ import annotations

from app.engine_status import EngineStatus
from engine.jobs import Progress
from engine.planner import Device, plan_for


def test_the_planners_choice_shows_in_the_status_bar_with_its_reason_on_hover(qtbot) -> None:
    status = EngineStatus()
    qtbot.addWidget(status)
    card = Device("cuda", "RTX 4090", 23 * 2**30, 24 * 2**30)
    plan = plan_for(card).to_dict()
    gpu = {"kind": "cuda", "name": "RTX 4090", "total_bytes": 24 * 2**30, "allocated_bytes": 9 * 2**30}
    status.show_status({"device": gpu, "rss_bytes": 3 * 2**30, "plan": None})
    assert status.device.text() == "RTX 4090 · 9.0 / 24 GB  ·  RAM 3.0 GB" and status.device.toolTip() == ""
    status.show_status({"device": gpu, "rss_bytes": 3 * 2**30, "plan": plan})
    shown = f"{plan['precision']} · {plan['frames']} frames"
    assert status.device.text() == f"RTX 4090 · 9.0 / 24 GB  ·  {shown}  ·  RAM 3.0 GB"
    assert status.device.toolTip() == plan["explanation"]
    assert f"with {plan['frames']} frames" in plan["explanation"]


def test_the_running_job_shows_its_stage_and_progress(qtbot) -> None:
    status = EngineStatus()
    qtbot.addWidget(status)
    status.show()
    status.show_job("ground", Progress("score", 30, 120))
    assert status.job.text() == "Finding moments — score 30/120" and status.bar.value() == 250
    assert status.cancel.isVisible()
    status.show_job(None, None)
    assert not status.cancel.isVisible() and not status.job.isVisible()
