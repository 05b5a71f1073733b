"""Size and load time of the HTML report of ``skin-estimators predict --report``.

Protocol:

* 500 photos of ``$SKIN_ESTIMATORS_DATA/sd198_other`` (24 other conditions, 260x448 to
  1640x1130 px), spread evenly over the sorted file list (every conditions' photos), linked
  into a temporary folder;
* ``skin-estimators predict MODEL FOLDER --out p.csv --report report.html`` without
  ``--explain``, timed from the command's start to its end, and once more without
  ``--report``; the report's own cost (thumbnails, page, write) is timed in one process
  from the CSV's predictions (the difference of the two commands is mostly the machine's
  load);
* the report's size on disk (goal: under 25 MB);
* its load time in headless Chromium, driven through the DevTools protocol
  (``--remote-debugging-pipe``): a new tab navigates to the ``file://`` URL, and the
  navigation timing entry (``performance.getEntriesByType("navigation")``) gives the time
  from navigation start to the load event's start and end (goal: under 2 s). The first load
  is in a fresh browser profile; then ``--loads`` more, each in a new tab; the median is
  reported with the first and the slowest.
* ``--explain``: the cost of ``--explain`` per photo, on the first 50 of the photos, with a
  network model (the vanilla CNN at 224 px fitted for one epoch on skin3: Grad-CAM's cost
  depends on the network and the input size, not on the weights), as the difference of
  ``predict --report`` with and without ``--explain`` divided by the photos explained.

Usage (the recommended model)::

  skin-estimators train --config benchmarks/configs/best.yaml --test-size 0 --out /tmp/best
  SKIN_ESTIMATORS_DATA=../shared/data python benchmarks/speed/report_size.py \\
      --model /tmp/best/model.safetensors [--explain]

Writes benchmarks/results/report_size.md.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from _common import RESULTS, commit, header

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def pick_photos(root, n):
    files = sorted(os.path.join(d, f) for d, _, names in os.walk(root) for f in names
                   if not f.startswith(".") and not f.endswith(".tsv"))
    if len(files) < n:
        sys.exit(f"{root} holds {len(files)} files, fewer than {n}")
    return [files[(i * len(files)) // n] for i in range(n)]


def link_photos(files, root, folder):
    for f in files:
        target = os.path.join(folder, os.path.relpath(f, root))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(f, target)


def run_predict(model, folder, out, *extra):
    command = [sys.executable, "-m", "skin_estimators.cli", "predict", model, folder, "--out",
               os.path.join(out, "p.csv"), "--quiet", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"predict failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


class DevTools:
    """Chromium driven through ``--remote-debugging-pipe`` (fds 3 and 4, NUL-separated JSON)."""

    def __init__(self, browser, profile):
        import fcntl

        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Out of the way of 3 and 4 before the child moves them there.
        high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
        high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def move():
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(
            [browser, *CHROMIUM_FLAGS, "--remote-debugging-pipe",
             f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4), preexec_fn=move)
        os.close(high_r)
        os.close(high_w)
        self._buffer, self._id = b"", 0

    def _receive(self):
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, session=None, **params):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def wait_event(self, name, session):
        while True:
            message = self._receive()
            if message.get("method") == name and message.get("sessionId") == session:
                return message

    def load(self, url):
        """The navigation timing entry of ``url`` loaded in a new tab."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target,
                            flatten=True)["sessionId"]
        self.call("Page.enable", session)
        self.call("Page.navigate", session, url=url)
        self.wait_event("Page.loadEventFired", session)
        expression = ("new Promise(r => setTimeout(() => r(JSON.stringify("
                      "performance.getEntriesByType('navigation')[0].toJSON())), 50))")
        value = self.call("Runtime.evaluate", session, expression=expression,
                          awaitPromise=True, returnByValue=True)["result"]["value"]
        self.call("Target.closeTarget", targetId=target)
        return json.loads(value)

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        self.proc.wait(timeout=30)
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def time_report(csv_path, out):
    """Seconds to build and write the report of ``csv_path``'s predictions, in-process."""
    import csv

    import numpy as np

    from skin_estimators._commands._report_predict import predict_records, write_predict_report

    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    classes = [c[len("proba_"):] for c in rows[0] if c.startswith("proba_")]
    start = time.perf_counter()
    proba = np.array([[float(r[f"proba_{c}"] or "nan") for c in classes] for r in rows])
    errors = [r["error"] or None for r in rows]
    trust = tuple([r[k] for r in rows] for k in ("prediction_set", "out_of_scope_score", "flag"))
    records = predict_records([r["image_path"] for r in rows], proba, errors,
                              np.array(classes), trust, threshold=None)
    write_predict_report(out, records, {"rows": [], "classes": classes, "trusted": None,
                                        "date": ""})
    return time.perf_counter() - start


def network_model(path):
    """The vanilla CNN at 224 px fitted for one epoch on skin3 (for --explain's cost)."""
    from sklearn.pipeline import make_pipeline

    from skin_estimators import (
        ChannelNormalizer,
        ImageLoader,
        VanillaCNNClassifier,
        fetch_skin3,
        save_model,
    )

    data = fetch_skin3()
    model = make_pipeline(ImageLoader(size=224), ChannelNormalizer(),
                          VanillaCNNClassifier(max_epochs=1, random_state=0, verbose=0))
    save_model(model.fit(data.filenames, data.target), path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model file (best.yaml's)")
    parser.add_argument("--photos", type=int, default=500)
    parser.add_argument("--loads", type=int, default=5, help="loads after the first")
    parser.add_argument("--explain", action="store_true", help="also measure --explain")
    parser.add_argument("--browser", default=shutil.which("chromium"))
    args = parser.parse_args()
    if not args.browser:
        sys.exit("no chromium on PATH (apt-get install chromium), or give --browser")
    root = os.path.join(os.environ.get("SKIN_ESTIMATORS_DATA", "../shared/data"), "sd198_other")
    files = pick_photos(root, args.photos)
    lines = [f"# Size and load time of the predict report ({args.photos} photos)", ""]
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "photos")
        link_photos(files, root, folder)
        plain = run_predict(args.model, folder, tmp)
        report = os.path.join(tmp, "report.html")
        with_report = run_predict(args.model, folder, tmp, "--report", report)
        size = os.path.getsize(report)
        build = time_report(os.path.join(tmp, "p.csv"), os.path.join(tmp, "again.html"))
        tools = DevTools(args.browser, os.path.join(tmp, "profile"))
        try:
            timings = [tools.load("file://" + report) for _ in range(1 + args.loads)]
            version = tools.call("Browser.getVersion")["product"]
        finally:
            tools.close()
        explain = None
        if args.explain:
            net = os.path.join(tmp, "cnn.safetensors")
            network_model(net)
            few = os.path.join(tmp, "few")
            link_photos(files[:50], root, few)
            base = run_predict(net, few, tmp, "--report", os.path.join(tmp, "a.html"))
            slow = run_predict(net, few, tmp, "--report", os.path.join(tmp, "b.html"),
                               "--explain")
            explain = (base, slow, os.path.getsize(os.path.join(tmp, "b.html")))
    start = [t["loadEventStart"] for t in timings]
    end = [t["loadEventEnd"] for t in timings]
    dom = [t["domContentLoadedEventEnd"] for t in timings]
    rest = start[1:] or start
    lines += [
        f"`python benchmarks/speed/report_size.py --model <best.yaml model>"
        f"{' --explain' if args.explain else ''}` at commit {commit(RESULTS / 'report_size.md')}; "
        f"{header().split('; ', 1)[1]}; {version}, headless.",
        "",
        f"Photos: {args.photos} of `sd198_other` (every {len(os.listdir(root))} conditions' "
        "photos, spread evenly over the sorted file list), without `--explain`.",
        "",
        "| figure | value | goal |",
        "|---|---:|---:|",
        f"| report size | {size / 1e6:.2f} MB ({size / args.photos / 1e3:.1f} kB per photo) "
        "| < 25 MB |",
        f"| load time, navigation start to load event start, first load (fresh profile) | "
        f"{start[0] / 1e3:.3f} s | < 2 s |",
        f"| load time, navigation start to load event start, median of {len(rest)} more "
        f"(slowest) | {statistics.median(rest) / 1e3:.3f} s ({max(rest) / 1e3:.3f} s) | < 2 s |",
        f"| load event end, first / median | {end[0] / 1e3:.3f} s / "
        f"{statistics.median(end[1:] or end) / 1e3:.3f} s | |",
        f"| DOMContentLoaded end, first / median | {dom[0] / 1e3:.3f} s / "
        f"{statistics.median(dom[1:] or dom) / 1e3:.3f} s | |",
        f"| `predict` without `--report` | {plain:.1f} s | |",
        f"| `predict --report` | {with_report:.1f} s | |",
        f"| the report alone (thumbnails, page, write; in one process) | {build:.1f} s "
        f"({build / args.photos * 1e3:.0f} ms per photo) | |",
    ]
    if explain:
        base, slow, html = explain
        lines += [
            "",
            "`--explain` (vanilla CNN, 224 px, one epoch on skin3; the first 50 photos, all "
            f"in scope: the model has no out-of-scope score): `predict --report` {base:.1f} s, "
            f"with `--explain` {slow:.1f} s: **{(slow - base) / 50:.2f} s per photo** for the "
            f"Grad-CAM overlay; report {html / 1e6:.2f} MB.",
        ]
    load = os.getloadavg()
    lines += ["", "The machine is shared with other work (1, 5, 15-minute load averages at "
              f"the end: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} on 2 cores): the times "
              "are upper bounds of what an idle machine gives."]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(RESULTS / "report_size.md", "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
