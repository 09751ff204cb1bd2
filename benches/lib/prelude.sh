# shellcheck shell=bash disable=SC2034 # bin and hz are used by the sourcing bench
# What the mount benches share before they start: the check for missing
# tools and the binary under test. Sourced from the repository's root.

# require HINT: exits, naming the tools in `missing` and how to get them, if any.
require() {
    if [ ${#missing[@]} -gt 0 ]; then
        echo "missing: ${missing[*]} ($1)" >&2
        exit 1
    fi
}

# release_bin: sets bin to LBRYMOUNT_BIN (default target/release/lbrymount,
# built with `cargo build --release` if absent), made absolute, and hz to
# the kernel's clock ticks per second (for /proc/PID/stat CPU times).
release_bin() {
    bin=${LBRYMOUNT_BIN:-target/release/lbrymount}
    if [ ! -x "$bin" ]; then
        [ -n "${LBRYMOUNT_BIN:-}" ] && { echo "LBRYMOUNT_BIN=$bin is not executable" >&2; exit 1; }
        cargo build --release --quiet
    fi
    bin=$(realpath "$bin")
    hz=$(getconf CLK_TCK)
}
