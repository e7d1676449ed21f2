#!/bin/bash
# grader/e2e_test.sh: the grader end to end, on hostile and normal submissions.
#
# Grades a small class (grader/testdata/submissions plus tricks made here: a symlink to a host
# file, an oversized file, a FIFO, a tarball with path escapes, and the reference solution)
# against the real tree's posix_shm lab with `grader batch`, then checks every student's verdict,
# the gradebook, the validators, and that a second run keeps every unchanged submission.
# It needs Bazel, root and the sandbox, so its Bazel target is tagged manual and local:
#   bazel --output_base=... test //grader:e2e_test        (or run this file directly:)
#   grader/e2e_test.sh [GRADER_BINARY]
# Environment: IPCLABS_TREE (default: the tree this file lives in), E2E_OUT (default: a temp dir).
set -euo pipefail

here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
tree="${IPCLABS_TREE:-$(dirname "$here")}"
grader="${1:-}"
if [[ -z "$grader" ]]; then
  for candidate in "$here/grader" "${TEST_SRCDIR:-/nonexistent}/ipc_labs/grader/grader"; do
    [[ -x "$candidate" && ! -d "$candidate" ]] && grader="$candidate" && break
  done
fi
if [[ -z "$grader" ]]; then
  echo "usage: $0 GRADER_BINARY   (bazel build //grader first)" >&2
  exit 2
fi
[[ -f "$tree/labs/posix_shm/lab.json" ]] || { echo "no posix_shm lab in $tree" >&2; exit 2; }

work="$(mktemp -d /tmp/ipclabs-e2e.XXXXXX)"
trap 'rm -rf "$work"' EXIT
class="$work/class"
out="${E2E_OUT:-$work/out}"
mkdir -p "$class"
cp -r "$tree/grader/testdata/submissions/compile_error" "$tree/grader/testdata/submissions/missing_file" "$class/"
mkdir -p "$class/reference/posix_shm" "$class/symlink/posix_shm" "$class/oversized/posix_shm" "$class/fifo/posix_shm"
cp "$tree/solutions/posix_shm/posix_shm.cc" "$class/reference/posix_shm/"
ln -s /etc/passwd "$class/symlink/posix_shm/posix_shm.cc"
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' '/' > "$class/oversized/posix_shm/posix_shm.cc"
mkfifo "$class/fifo/posix_shm/posix_shm.cc"
python3 - "$class/escape.tar.gz" "$tree/solutions/posix_shm/posix_shm.cc" <<'PY'
import io, sys, tarfile
out, reference = sys.argv[1], sys.argv[2]
with tarfile.open(out, "w:gz") as tar:
    for name in ("../../escaped.cc", "/tmp/ipclabs-e2e-absolute.cc"):
        data = b"int escaped;\n"
        info = tarfile.TarInfo(name); info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    tar.add(reference, arcname="escape/labs/posix_shm/posix_shm.cc")
PY

failures=0
check() {  # check DESCRIPTION FILE PATTERN
  if grep -q -- "$3" "$2"; then
    echo "ok   $1"
  else
    echo "FAIL $1: no \"$3\" in $2" >&2
    failures=$((failures + 1))
  fi
}

echo "== grading $(ls "$class" | wc -l) submissions (first run)"
start=$(date +%s)
set +e
"$grader" batch "$class" -j 1 --tree="$tree" --labs=posix_shm --out="$out"
status=$?
set -e
echo "== first run: exit $status in $(( $(date +%s) - start )) s"
[[ $status -eq 0 ]] || { echo "FAIL the batch exited $status" >&2; failures=$((failures + 1)); }
cat "$out/gradebook.csv"

check "reference scores full marks" "$out/reference/report.txt" "100%"
check "compile error: build failed" "$out/compile_error/summary.json" '"outcome": "build failed"'
check "compile error: the compiler's message reaches the student" "$out/compile_error/feedback.md" "error:"
check "missing file is named" "$out/missing_file/feedback.md" 'missing labs/posix\\_shm/posix\\_shm.cc'
check "symlink to a host file is refused" "$out/symlink/summary.json" "is a symbolic link (to /etc/passwd)"
check "oversized file is refused" "$out/oversized/summary.json" "over the limit of 1048576 bytes"
check "FIFO is refused" "$out/fifo/summary.json" "FIFO"
check "tar path escape is refused" "$out/escape/summary.json" "refused ../../escaped.cc in the archive"
check "tar absolute path is refused" "$out/escape/summary.json" "it has an absolute path"
check "tar with refusals still grades its good file" "$out/escape/report.txt" "100%"
if [[ -e "$work/escaped.cc" || -e /tmp/escaped.cc || -e /tmp/ipclabs-e2e-absolute.cc ]]; then
  echo "FAIL a tar entry escaped" >&2; failures=$((failures + 1))
else
  echo "ok   nothing escaped the unpack folder"
fi
if grep -q "root:" "$out"/symlink/* 2>/dev/null; then
  echo "FAIL /etc/passwd leaked into a report" >&2; failures=$((failures + 1))
fi
check "gradebook has the reference row" "$out/gradebook.csv" "^reference,"

formats="${IPCLABS_SHARED_FORMATS:-$tree/../shared/formats}"
if [[ -x "$formats/validate-results-json" && -x "$formats/validate-junit" ]]; then
  for student in "$out"/*/; do
    "$formats/validate-results-json" --strict -q "$student/results.json" >/dev/null || {
      echo "FAIL $student/results.json is invalid" >&2; failures=$((failures + 1)); }
    "$formats/validate-junit" --strict -q "$student/junit.xml" >/dev/null || {
      echo "FAIL $student/junit.xml is invalid" >&2; failures=$((failures + 1)); }
  done
  echo "ok   reports checked by the shared validators"
else
  echo "*** WARNING: $formats/validate-* not found: the reports were NOT validated ***" >&2
fi

echo "== second run: every submission is unchanged"
"$grader" batch "$class" -j 1 --tree="$tree" --labs=posix_shm --out="$out" 2> "$work/second.log" || true
cat "$work/second.log"
check "second run keeps all 7 unchanged" "$work/second.log" "0 graded, 7 unchanged"

if [[ $failures -gt 0 ]]; then
  echo "$failures check(s) FAILED" >&2
  exit 1
fi
echo "all end-to-end checks passed"
