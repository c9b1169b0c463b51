"""Subprocess for the resume test: train and SIGKILL itself after a given step."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training_helpers import resume_run

if __name__ == "__main__":
    resume_run(sys.argv[1], kill_at=int(sys.argv[2]))
