"""Merge keys into /etc/docker/daemon.json without losing the others, and restore it."""
import json
import shutil

from conformance.lab import paths
from conformance.lab.progress import LabError


def read(path):
    """The file's object, {} when absent; a LabError with line and column when malformed."""
    if not path.exists():
        return {}
    text = path.read_text()
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise LabError(f"{path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); "
                       "fix or move it, the lab will not overwrite it") from None
    if not isinstance(data, dict):
        raise LabError(f"{path} must hold a JSON object, found {type(data).__name__}; the lab will not overwrite it")
    return data


def merge(path, updates):
    """Set `updates` in the file, keeping every other key; back up the original once. True if it changed."""
    current = read(path)
    wanted = {**current, **updates}
    if wanted == current:
        return False
    _back_up(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".lab-tmp")
    tmp.write_text(json.dumps(wanted, indent=2) + "\n")
    tmp.replace(path)
    return True


def restore(path):
    """Put back the file as it was before the lab's first change. True if anything changed."""
    if paths.DAEMON_JSON_BACKUP.exists():
        shutil.copy2(paths.DAEMON_JSON_BACKUP, path)
        paths.DAEMON_JSON_BACKUP.unlink()
        return True
    if paths.DAEMON_JSON_ABSENT.exists():
        path.unlink(missing_ok=True)
        paths.DAEMON_JSON_ABSENT.unlink()
        return True
    return False


def _back_up(path):
    if paths.DAEMON_JSON_BACKUP.exists() or paths.DAEMON_JSON_ABSENT.exists():
        return
    paths.HOME.mkdir(parents=True, exist_ok=True)
    if path.exists():
        shutil.copy2(path, paths.DAEMON_JSON_BACKUP)
    else:
        paths.DAEMON_JSON_ABSENT.touch()
