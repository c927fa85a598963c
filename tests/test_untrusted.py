"""Untrusted model files: signed files load in-process, every other file in a sandbox.

* A file saved by this user carries an HMAC-SHA256 under this user's key and
  is parsed in this process (asserted: no child process is started).
* Checksum-only files (format version 1, as fastdnn wrote them before
  signatures; the header is written here by hand from its specification),
  files signed with another key, tampered and forged files are parsed in the
  child process, and load with exactly their content when it is valid.
* A child that crashes, hangs, spins, allocates without end, exits or
  replies garbage gives a ValueError naming the file and what happened,
  within the time limit (test hooks make the child misbehave).
* The data cap stops decompression bombs; links and external storage are
  refused; the memory cap stops a parse that needs more.
* The key: created on first save with mode 0600 (directory 0700), never on
  load, the same key for processes racing to create it, ignored (with a
  warning) when others may read it.
"""
import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import threading
import time

import h5py
import numpy as np
import pytest

from fastdnn import _keys, _sandbox, model_io
from fastdnn.model_io import load_model, save_model
from tests.conftest import REPO_ROOT, make_params

COSTS = [0.7, 0.6, 0.5]
TRAINING = dict(learning_rate=0.0075, iterations=1200, target_iterations=2500, kind="deep",
                solver="gram", threads=2, dtype="float64", record_every=100,
                data="somewhere", data_sha256="ab" * 32)


@pytest.fixture(autouse=True)
def key_file(tmp_path, monkeypatch):
    """A fresh key location per test (created by the first save)."""
    path = tmp_path / "config" / "fastdnn" / "model-key"
    monkeypatch.setenv("FASTDNN_KEY_FILE", str(path))
    return path


def spawned():
    return _sandbox.stats["spawned"]


def save(path, seed=0, **kw):
    params = make_params(seed)
    state = {"W1_v": params["W1"] * 2, "t": np.arange(4, dtype=np.int64)}
    save_model(path, params, costs=COSTS, training=TRAINING, state=state, **kw)
    return params, state


def assert_content(m, params, state):
    assert sorted(m.parameters) == sorted(params)
    for k in params:
        assert m.parameters[k].dtype == params[k].dtype
        np.testing.assert_array_equal(m.parameters[k], params[k])
    assert m.training == {**{k: v for k, v in TRAINING.items()
                             if k not in ("learning_rate", "solver", "threads", "dtype")},
                          "initialization": "seed"}
    assert (m.config.learning_rate, m.config.solver, m.config.threads) == \
        (TRAINING["learning_rate"], TRAINING["solver"], TRAINING["threads"])
    np.testing.assert_array_equal(m.costs, COSTS)
    assert m.costs.dtype == np.float64
    assert sorted(m.state) == sorted(state)
    for k in state:
        assert m.state[k].dtype == state[k].dtype
        np.testing.assert_array_equal(m.state[k], state[k])


def header_lines(path):
    head = open(path, "rb").read(model_io.HEADER_SIZE)
    assert head.startswith(b"FASTDNN-MODEL\n")
    return head[len(b"FASTDNN-MODEL\n"):].rstrip(b"\0").decode().splitlines()


def write_header(path, lines):
    """Replace the 512-byte header of ``path`` with FASTDNN-MODEL and ``lines`` (zero padded)."""
    data = open(path, "rb").read()
    head = ("FASTDNN-MODEL\n" + "".join(line + "\n" for line in lines)).encode()
    assert len(head) <= 512
    with open(path, "wb") as f:
        f.write(head.ljust(512, b"\0") + data[512:])


def reseal_v1(path):
    """Write a format-version-1 header (sha256 and length only), from its specification."""
    body = open(path, "rb").read()[512:]
    write_header(path, [f"sha256 {hashlib.sha256(body).hexdigest()}", f"bytes {len(body)}"])


def hmac_of(key, body):
    """The signature as the header format specifies it, computed here independently."""
    return hmac.new(key, b"fastdnn-model-hmac-v1\0" + body, hashlib.sha256).hexdigest()


def no_child(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a child process was started for a signed file")
    monkeypatch.setattr(_sandbox, "_run", refuse)


# ------------------------------------------------------------ signed files
def test_a_saved_file_is_signed_and_loads_in_process(tmp_path, key_file, monkeypatch):
    path = tmp_path / "m.h5"
    params, state = save(path)
    lines = header_lines(path)
    assert [line.split()[0] for line in lines] == ["sha256", "bytes", "hmac-sha256"]
    key = bytes.fromhex(key_file.read_text().strip())
    body = path.read_bytes()[512:]
    _, kid, mac = lines[2].split()
    assert mac == hmac_of(key, body)
    assert kid == hashlib.sha256(b"fastdnn-key-id\0" + key).hexdigest()[:16]
    no_child(monkeypatch)
    before = _sandbox.stats["in-process"]
    assert_content(load_model(path), params, state)
    assert _sandbox.stats["in-process"] == before + 1


def test_trusted_false_sends_a_signed_file_to_the_child(tmp_path):
    path = tmp_path / "m.h5"
    params, state = save(path)
    n = spawned()
    assert_content(load_model(path, trusted=False), params, state)
    assert spawned() == n + 1
    for bad in (True, 1, "yes"):
        with pytest.raises(ValueError, match="trusted must be None .* or False"):
            load_model(path, trusted=bad)


# -------------------------------------------------------- untrusted files
def test_version_1_file_loads_through_the_child(tmp_path):
    path = tmp_path / "v1.h5"
    params, state = save(path)
    reseal_v1(path)
    assert [line.split()[0] for line in header_lines(path)] == ["sha256", "bytes"]
    n = spawned()
    m = load_model(path)
    assert spawned() == n + 1
    assert_content(m, params, state)
    assert m.parameters["W1"].flags.writeable and m.parameters["W1"].flags.c_contiguous


def test_seal_without_signing_is_the_version_1_header(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    save(a)
    b.write_bytes(a.read_bytes())
    model_io._seal(a, sign=False)
    reseal_v1(b)
    assert a.read_bytes() == b.read_bytes()


def test_another_users_file_loads_through_the_child(tmp_path, monkeypatch):
    path = tmp_path / "theirs.h5"
    monkeypatch.setenv("FASTDNN_KEY_FILE", str(tmp_path / "classmate" / "key"))
    params, state = save(path)
    monkeypatch.setenv("FASTDNN_KEY_FILE", str(tmp_path / "me" / "key"))
    save(tmp_path / "mine.h5", seed=1)                    # this user has a key too
    n = spawned()
    assert_content(load_model(path), params, state)
    assert spawned() == n + 1


def test_no_key_at_all_still_loads_signed_files_through_the_child(tmp_path, key_file):
    path = tmp_path / "m.h5"
    params, state = save(path)
    key_file.unlink()
    n = spawned()
    assert_content(load_model(path), params, state)
    assert spawned() == n + 1
    assert not key_file.exists()                          # loading never creates a key


def _tampered(path, key_file):
    """Change W1[0, 0] in the HDF5 bytes, recompute the sha256, keep the signature line."""
    data = bytearray(path.read_bytes())
    w1 = make_params()["W1"]
    pos = bytes(data).find(w1.tobytes())
    assert pos > 512
    data[pos:pos + 8] = np.float64(42.0).tobytes()
    path.write_bytes(bytes(data))
    lines = header_lines(path)
    body = bytes(data[512:])
    write_header(path, [f"sha256 {hashlib.sha256(body).hexdigest()}", f"bytes {len(body)}",
                        lines[2]])


def test_tampered_signed_file_is_parsed_in_the_child(tmp_path, key_file, monkeypatch):
    path = tmp_path / "m.h5"
    params, _ = save(path)
    _tampered(path, key_file)
    n = spawned()
    m = load_model(path)                  # the content is valid: it loads, safely parsed
    assert spawned() == n + 1
    assert m.parameters["W1"][0, 0] == 42.0
    np.testing.assert_array_equal(m.parameters["W2"], params["W2"])
    monkeypatch.setattr(_sandbox, "_TEST_HOOK", "abort")
    with pytest.raises(ValueError, match="m.h5: signed with this user's key id, but the "
                                         "signature does not verify.*crashed"):
        load_model(path)


def test_forged_signature_lines(tmp_path, key_file):
    path = tmp_path / "m.h5"
    params, state = save(path)
    key = bytes.fromhex(key_file.read_text().strip())
    body = path.read_bytes()[512:]
    base = [f"sha256 {hashlib.sha256(body).hexdigest()}", f"bytes {len(body)}"]
    kid = hashlib.sha256(b"fastdnn-key-id\0" + key).hexdigest()[:16]
    other = bytes(32)
    for line, reason in (
            (f"hmac-sha256 {kid} {'0' * 64}", "does not verify"),
            (f"hmac-sha256 {'1' * 16} {hmac_of(key, body)}", "another key"),
            (f"hmac-sha256 {kid} {hmac_of(other, body)}", "does not verify")):
        write_header(path, base + [line])
        n = spawned()
        assert_content(load_model(path), params, state)
        assert spawned() == n + 1, reason
    for line in (f"hmac-sha256 {kid}", f"hmac-sha256 {kid} {'0' * 63}",
                 f"hmac-sha256 {kid} {'G' * 64}", f"hmac-md5 {kid} {'0' * 64}",
                 f"hmac-sha256 {kid} {'0' * 64} extra"):
        write_header(path, base + [line])
        with pytest.raises(ValueError, match="m.h5: corrupted fastdnn model file "
                                             r"\(unreadable header\)"):
            load_model(path)
    write_header(path, base + [f"hmac-sha256 {kid} {hmac_of(key, body)}", "more 1"])
    with pytest.raises(ValueError, match="unreadable header"):
        load_model(path)


# ------------------------------------------------------ a misbehaving child
@pytest.fixture
def v1_file(tmp_path):
    path = tmp_path / "v1.h5"
    save(path)
    reseal_v1(path)
    return path


@pytest.mark.parametrize("hook,message", [
    ("abort", r"crashed \(aborted, SIGABRT\)"),
    ("segfault", r"crashed \(segmentation fault, SIGSEGV\)"),
    ("exit", "exited with status 3 without a reply"),
    ("garbage", r"replied something malformed \(header is not JSON\)"),
    ("lie", "replied something malformed .*larger than the data sent or allowed"),
    ("pickle", r"replied something malformed .*dtype '\|O'"),
    ("flood", "sent more than .* bytes"),
])
def test_a_child_that_fails_gives_a_value_error(v1_file, monkeypatch, hook, message):
    monkeypatch.setattr(_sandbox, "_TEST_HOOK", hook)
    with pytest.raises(ValueError, match="v1.h5: not signed .*sandbox process, which "
                                         + message):
        load_model(v1_file)


def test_a_hanging_child_is_killed_at_the_wall_clock_limit(v1_file, monkeypatch):
    monkeypatch.setattr(_sandbox, "_TEST_HOOK", "sleep")
    monkeypatch.setattr(_sandbox, "WALL_SECONDS", 1.5)
    t = time.monotonic()
    with pytest.raises(ValueError, match="v1.h5: .*took longer than 2 s and was killed"):
        load_model(v1_file)
    assert time.monotonic() - t < 1.5 + 3.0


def test_a_spinning_child_is_stopped_at_the_cpu_limit(v1_file, monkeypatch):
    monkeypatch.setattr(_sandbox, "_TEST_HOOK", "spin")
    monkeypatch.setattr(_sandbox, "CPU_SECONDS", 1.0)
    monkeypatch.setattr(_sandbox, "WALL_SECONDS", 60.0)
    t = time.monotonic()
    with pytest.raises(ValueError, match="v1.h5: .*used up its CPU time limit"):
        load_model(v1_file)
    assert time.monotonic() - t < 20


def test_a_child_allocating_without_end_hits_the_memory_cap(v1_file, monkeypatch):
    monkeypatch.setattr(_sandbox, "_TEST_HOOK", "allocate")
    t = time.monotonic()
    with pytest.raises(ValueError, match="v1.h5: .*ran out of its memory limit"):
        load_model(v1_file)
    assert time.monotonic() - t < 20


def test_the_memory_cap_stops_a_real_parse_that_needs_more(tmp_path, monkeypatch):
    path = tmp_path / "big.h5"
    big = np.linspace(0, 1, 8 << 20)                       # 64 MiB of costs
    save_model(path, make_params(), costs=big)
    reseal_v1(path)
    real = _sandbox.limits_for
    monkeypatch.setattr(_sandbox, "limits_for",
                        lambda size: real(size)[:3] + (16 << 20,))   # 16 MiB of room
    with pytest.raises(ValueError, match="big.h5: .*(ran out of its memory limit|"
                                         "MemoryError|Unable to|crashed)"):
        load_model(path)
    monkeypatch.undo()
    m = load_model(path)                                  # with the normal cap it loads
    np.testing.assert_array_equal(m.costs, big)


# ------------------------------------------------------ hostile structure
def _sealed_h5(path, build, sign=False):
    with h5py.File(path, "w", userblock_size=512) as f:
        build(f)
    model_io._seal(path, sign=sign)
    return path


def _model_layout(f, costs=None, **dataset_kw):
    import fastdnn
    p = make_params()
    meta = {"layer_dims": [12, 5, 3, 1], "activations": ["relu", "relu", "sigmoid"],
            "dtype": "float64", "classes": ["non-cat", "cat"],
            "training": dict(TRAINING)}
    f.attrs["format"] = model_io.FORMAT
    f.attrs["format_version"] = 1          # the meta above is laid out as version 1's
    f.attrs["fastdnn_version"] = fastdnn.__version__
    f.attrs["meta"] = json.dumps(meta)
    for k, v in p.items():
        f.create_dataset("parameters/" + k, data=v)
    f.create_dataset("costs", data=np.asarray(COSTS) if costs is None else costs,
                     **dataset_kw)


def test_a_decompression_bomb_is_refused(tmp_path):
    def build(f):
        _model_layout(f, costs=np.zeros(1 << 25), compression="gzip", chunks=(1 << 20,))
    path = _sealed_h5(tmp_path / "bomb.h5", build)
    assert path.stat().st_size < 2 << 20                  # 256 MiB of zeros in < 2 MiB
    with pytest.raises(ValueError, match="bomb.h5: 'costs' would bring the data past"):
        load_model(path)


def test_links_and_external_storage_are_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(3.0).tobytes())
    with h5py.File(tmp_path / "other.h5", "w") as g:
        g["x"] = np.arange(3.0)
    cases = {
        "soft": lambda f: f.__setitem__("parameters/b3", h5py.SoftLink("/parameters/b2")),
        "external-link": lambda f: f.__setitem__(
            "parameters/b3", h5py.ExternalLink(str(tmp_path / "other.h5"), "/x")),
        "external-storage": lambda f: f.create_dataset(
            "state/s", shape=(3,), dtype="f8", external=[(str(secret), 0, 24)]),
    }
    for name, add in cases.items():
        def build(f, add=add):
            _model_layout(f)
            del f["parameters/b3"]
            if name == "external-storage":
                f["parameters/b3"] = make_params()["b3"]
            add(f)
        path = _sealed_h5(tmp_path / f"{name}.h5", build)
        with pytest.raises(ValueError, match=f"{name}.h5: .*(Link; a model file holds no "
                                             f"links|refers to data in other files)"):
            load_model(path)


def test_text_datasets_and_odd_attributes(tmp_path):
    def build(f):
        _model_layout(f)
        f.create_dataset("state/names", data=np.array([b"a", b"b"]))
    with pytest.raises(ValueError, match=r"txt.h5: state/names must be numeric \(bool, int, "
                                         r"uint, float16/32/64\), got dtype \|S1"):
        load_model(_sealed_h5(tmp_path / "txt.h5", build))
    for name, value in (("complex", np.ones(3, np.complex128)),
                        ("longdouble", np.ones(3, np.longdouble))):
        if np.dtype(np.longdouble).itemsize == 8 and name == "longdouble":
            continue                       # long double is float64 on this platform
        def build1(f, value=value):
            _model_layout(f)
            f.create_dataset("state/x", data=value)
        with pytest.raises(ValueError, match=f"{name}.h5: state/x must be numeric"):
            load_model(_sealed_h5(tmp_path / f"{name}.h5", build1))

    def build2(f):
        _model_layout(f)
        f.attrs["meta"] = np.arange(3.0)
    with pytest.raises(ValueError, match="attr.h5: attribute 'meta' should be text, got "
                                         "ndarray of float64"):
        load_model(_sealed_h5(tmp_path / "attr.h5", build2))


def test_big_endian_and_integer_state_come_back_native(tmp_path):
    def build(f):
        _model_layout(f)
        f.create_dataset("state/be", data=np.arange(6, dtype=">f8").reshape(2, 3))
        f.create_dataset("state/i", data=np.arange(5, dtype=np.int32))
        f.create_dataset("state/flag", data=np.array(True))
    m = load_model(_sealed_h5(tmp_path / "be.h5", build))
    assert m.state["be"].dtype == np.dtype("=f8")
    np.testing.assert_array_equal(m.state["be"], np.arange(6.0).reshape(2, 3))
    assert m.state["i"].dtype == np.int32 and m.state["flag"].shape == ()
    assert bool(m.state["flag"]) is True


# ----------------------------------------------------------------- the key
def test_the_key_is_created_on_first_save_with_mode_0600(tmp_path, key_file):
    assert not key_file.exists()
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "none.h5")
    assert not key_file.parent.exists()
    save(tmp_path / "m.h5")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    text = key_file.read_text()
    assert len(text.strip()) == 64 and bytes.fromhex(text.strip())
    first = text
    save(tmp_path / "n.h5")
    assert key_file.read_text() == first                  # never replaced
    assert [p.name for p in key_file.parent.iterdir()] == ["model-key"]


def test_the_key_mode_ignores_the_umask(tmp_path, key_file):
    old = os.umask(0)
    try:
        save(tmp_path / "m.h5")
    finally:
        os.umask(old)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_default_key_location(tmp_path, monkeypatch):
    monkeypatch.delenv("FASTDNN_KEY_FILE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert _keys.key_path() == str(tmp_path / "xdg" / "fastdnn" / "model-key")
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")      # ignored, as XDG says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _keys.key_path() == str(tmp_path / "home" / ".config" / "fastdnn" / "model-key")
    assert not _keys.key_path().startswith(REPO_ROOT)


def test_a_key_others_can_read_is_not_used(tmp_path, key_file):
    path = tmp_path / "m.h5"
    params, state = save(path)
    os.chmod(key_file, 0o644)
    n = spawned()
    with pytest.warns(RuntimeWarning, match="mode 644; it must be readable by its owner only"):
        m = load_model(path)
    assert spawned() == n + 1                             # not trusted: the sandbox
    assert_content(m, params, state)
    with pytest.warns(RuntimeWarning, match="not signed"):
        save(tmp_path / "n.h5")                           # and saving does not sign with it
    assert [line.split()[0] for line in header_lines(tmp_path / "n.h5")] == ["sha256", "bytes"]


@pytest.mark.parametrize("content", ["", "abc\n", "zz" * 32 + "\n", "00" * 40 + "\n"])
def test_a_malformed_key_is_not_used(tmp_path, key_file, content):
    key_file.parent.mkdir(parents=True)
    key_file.write_text(content)
    os.chmod(key_file, 0o600)
    os.utime(key_file, (time.time() - 60, time.time() - 60))     # not one being written
    with pytest.warns(RuntimeWarning, match="model-key: a fastdnn key holds"):
        assert _keys.get_or_create_key() is None
    assert key_file.read_text() == content                # never overwritten


_RACE = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("k", {keys!r})
_keys = importlib.util.module_from_spec(spec)
spec.loader.exec_module(_keys)
start = float(sys.argv[1])
while time.time() < start:
    pass
print(_keys.get_or_create_key().hex())
"""


def test_concurrent_key_creation_gives_every_process_the_same_key(tmp_path, key_file):
    script = tmp_path / "race.py"
    script.write_text(_RACE.format(keys=_keys.__file__))
    for attempt in range(3):
        if key_file.exists():
            key_file.unlink()
        start = time.time() + 1.5
        procs = [subprocess.Popen([sys.executable, str(script), repr(start)],
                                  stdout=subprocess.PIPE, text=True) for _ in range(6)]
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            _keys.get_or_create_key().hex())) for _ in range(4)]
        while time.time() < start:
            time.sleep(0.001)
        for t in threads:
            t.start()
        outs = [p.communicate(timeout=60)[0].strip() for p in procs]
        for t in threads:
            t.join()
        assert all(p.returncode == 0 for p in procs)
        keys = set(outs) | set(results)
        assert keys == {key_file.read_text().strip()}, keys
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert [p.name for p in key_file.parent.iterdir()] == ["model-key"]


# ------------------------------------------------------------ concurrency
def test_threads_loading_untrusted_files_at_once(tmp_path):
    paths, contents = [], []
    for s in range(4):
        path = tmp_path / f"m{s}.h5"
        contents.append(save(path, seed=s))
        reseal_v1(path)
        paths.append(path)
    errors = []

    def work(i):
        try:
            for _ in range(2):
                assert_content(load_model(paths[i]), *contents[i])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


# ------------------------------------------------------------------ speed
def test_cat_model_signed_load_is_under_50_ms(tmp_path, monkeypatch):
    """bench/load_time.py measures the same, with more repetitions."""
    rng = np.random.default_rng(0)
    dims = [12288, 20, 7, 5, 1]
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * 0.01
        params[f"b{l}"] = np.zeros((dims[l], 1))
    path = tmp_path / "cat.h5"
    save_model(path, params, costs=np.linspace(0.7, 0.1, 25))
    no_child(monkeypatch)
    load_model(path)
    best = min(_timed(lambda: load_model(path)) for _ in range(7))
    assert best < 0.050, f"{best * 1e3:.1f} ms"


def _timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


# ------------------------------------------------------------------ the CLI
def _find_crasher(tmp_path):
    """A file whose HDF5 structure crashes the HDF5 library (a flipped byte under a
    recomputed checksum; the positions bench/forge_models.py found first, then a scan)."""
    from bench.forge_models import COSTS as BENCH_COSTS, DENSE
    path = tmp_path / "forged.h5"
    save_model(path, make_params(0), costs=BENCH_COSTS)
    good = path.read_bytes()
    positions = [849, 993, 1065] + list(range(600, DENSE, 7))
    for pos in positions:
        data = bytearray(good)
        data[512 + pos] ^= 0xFF
        path.write_bytes(bytes(data))
        reseal_v1(path)
        n = _sandbox.stats["crash"]
        try:
            load_model(path)
        except ValueError:
            pass
        if _sandbox.stats["crash"] > n:
            return path
        if pos > 1100 and pos not in (849, 993, 1065):
            break                      # keep the test short: no crasher in this HDF5 build
    pytest.skip("no flipped byte crashes this build's HDF5 library near the known positions")


def test_cli_predict_and_evaluate_survive_a_crashing_file(tmp_path):
    from tests.test_cli import assert_one_line_error, cli_env, write_small_dataset
    small = write_small_dataset(tmp_path / "data", n_train=10, n_test=6)
    crasher = _find_crasher(tmp_path)
    for args in (["evaluate", crasher, "--data", small],
                 ["predict", crasher, os.path.join(small, "test_catvnoncat.h5")]):
        r = subprocess.run([sys.executable, "-m", "fastdnn", *map(str, args)], cwd=tmp_path,
                           env=cli_env(tmp_path), capture_output=True, text=True, timeout=120)
        assert_one_line_error(r, "cannot load model", "forged.h5", "sandbox process",
                              "crashed")


def test_cli_evaluates_a_version_1_file_through_the_sandbox(tmp_path):
    from tests.test_cli import N_X, cli_env, write_small_dataset
    small = write_small_dataset(tmp_path / "data", n_train=10, n_test=6)
    path = tmp_path / "v1.h5"
    save_model(path, make_params(0, dims=(N_X, 4, 1)))
    reseal_v1(path)
    r = subprocess.run([sys.executable, "-m", "fastdnn", "evaluate", str(path), "--data", small],
                       cwd=tmp_path, env=cli_env(tmp_path), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "test accuracy:" in r.stdout
