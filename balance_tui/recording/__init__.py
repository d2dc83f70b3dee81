"""Recording what the console shows, headless, and reading it back for replay. No Textual here: the
recorder runs where there is no terminal (a systemd unit), and replay draws what it reads with the console."""

from balance_tui.recording.events import EventKind, RecordedEvent
from balance_tui.recording.meta import RecordingError, RecordingMeta
from balance_tui.recording.reader import Recording
from balance_tui.recording.writer import Recorder, default_path

__all__ = ["EventKind", "RecordedEvent", "Recorder", "Recording", "RecordingError", "RecordingMeta", "default_path"]
