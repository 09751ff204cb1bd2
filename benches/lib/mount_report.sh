# shellcheck shell=bash disable=SC2034,SC2154 # globals shared with benches/mount.sh
# The tables of benches/mount.sh: every figure measured, then one row per
# target with its ratio against the reference of the same run. Sourced at
# the end of benches/mount.sh, which fills R[...] (l and r name the systems).

# Numbers: MiB/s of SECS [BYTES]; a / b; MiB of KiB. Ratios of throughput
# are taken from the times, not from the rounded MiB/s.
mibs() { awk -v t="$1" -v b="${2:-$size_b}" 'BEGIN { if (t > 0) printf "%.0f", b / 1048576 / t; else print "inf" }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b == 0) ? 0 : a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
field() { awk -v i="$2" '{ print $i }' <<<"$1"; }
row() { printf "%-46s %-24s %-24s\n" "$1" "$2" "$3"; }
rate_s() { echo "$(mibs "$1") MiB/s ($1 s)"; }

sha_mibs=$(mibs "$t_sha")
echo "file: $size_mib MiB of random data, $(nproc) cores, all on 127.0.0.1; $(rclone version 2>/dev/null | head -1)"
echo "lbrymount: $bin"
echo "load average at the start: $load"
echo "sha384sum (page cache warm, best of 3): $t_sha s = $sha_mibs MiB/s, $c_sha CPU-s per GiB"
echo "OpenSSL's SHA-384 (openssl dgst, least of 3): ${c_ossl:-n/a (no openssl)} CPU-s per GiB"
echo "writing $size_mib MiB into new 2 MiB files (no fsync): $t_write s = $(mibs "$t_write") MiB/s"
echo
row "scenario" "lbrymount" "rclone mount"
row "lookup: stat of the file, cold (median of $nttfb)" "${R[$l.stat]} ms" "${R[$r.stat]} ms"
row "first byte: open + read 1 B (median of $nttfb)" "${R[$l.ttfb]} ms" "${R[$r.ttfb]} ms"
row "  all $nttfb (ms)" "${R[$l.ttfb_all]}" "${R[$r.ttfb_all]}"
row "first byte, nothing before (median of $nttfb)" "${R[$l.bare]} ms" "${R[$r.bare]} ms"
row "  all $nttfb (ms)" "${R[$l.bare_all]}" "${R[$r.bare_all]}"
row "cold sequential read, 1 peer (best of $ncold)" "$(rate_s "${R[$l.cold_s]}")" "$(rate_s "${R[$r.cold_s]}")"
row "  all $ncold runs (s)" "${R[$l.cold_all]}" "${R[$r.cold_all]}"
row "  CPU of the mount process (fastest run)" "${R[$l.cpu]}" "${R[$r.cpu]}"
row "  CPU-s per GiB read, mount (least of $ncold)" "${R[$l.cpugb]}" "${R[$r.cpugb]}"
row "  CPU of the server (node A / nginx)" "${R[$l.srv_cpu]}" "${R[$r.srv_cpu]}"
row "  peak RSS of the mount, 1 reader (max)" "$(mib "${R[$l.hwm]}") MiB" "$(mib "${R[$r.hwm]}") MiB"
row "  kernel read-ahead of the mount" "${R[$l.ra]} KiB" "${R[$r.ra]} KiB"
row "cold sequential read, 3 peers (best of $ncold)" "$(rate_s "${R[l3.cold_s]}")" "-"
row "  all $ncold runs (s)" "${R[l3.cold_all]}" "-"
row "  CPU of the mount process (fastest run)" "${R[l3.cpu]}" "-"
row "  CPU-s per GiB read, mount (least of $ncold)" "${R[l3.cpugb]}" "-"
row "  CPU of the 3 servers together" "${R[l3.srv_cpu]}" "-"
row "  peak RSS of the mount (max)" "$(mib "${R[l3.hwm]}") MiB" "-"
row "warm re-read (same mount)" "$(rate_s "${R[$l.warm_s]}")" "$(rate_s "${R[$r.warm_s]}")"
row "cmp with the original" "${R[$l.cmp]}" "${R[$r.cmp]}"
if [ -n "${R[$l.disk_s]}" ] && [ -n "${R[$r.disk_s]}" ]; then
    row "re-read from the disk cache (new mount)" "$(rate_s "${R[$l.disk_s]}")" "$(rate_s "${R[$r.disk_s]}")"
    row "  bytes the server sent meanwhile" "${R[$l.disk_fetched]}" "${R[$r.disk_fetched]}"
else
    row "re-read from the disk cache" "skipped: dropping the page cache needs root" ""
fi
for c in cold warm; do
    row "$nreads x 4 KiB pread, $c: median" "$(field "${R[$l.rand_$c]}" 1) ms" "$(field "${R[$r.rand_$c]}" 1) ms"
    row "  p90 / max" "$(field "${R[$l.rand_$c]}" 2) / $(field "${R[$l.rand_$c]}" 3) ms" \
        "$(field "${R[$r.rand_$c]}" 2) / $(field "${R[$r.rand_$c]}" 3) ms"
    row "  all $nreads reads" "$(field "${R[$l.rand_$c]}" 4) s" "$(field "${R[$r.rand_$c]}" 4) s"
done
row "$nreaders readers x $many_mib MiB at spread offsets" "$(mibs "${R[$l.many_s]}" "${R[$l.many_b]}") MiB/s (${R[$l.many_s]} s)" \
    "$(mibs "${R[$r.many_s]}" "${R[$r.many_b]}") MiB/s (${R[$r.many_s]} s)"
row "  peak RSS of the mount" "$(mib "${R[$l.many_hwm]}") MiB" "$(mib "${R[$r.many_hwm]}") MiB"
row "peak RSS after all reads of the last mount" "$(mib "${R[$l.hwm_end]}") MiB" "$(mib "${R[$r.hwm_end]}") MiB"
echo

# --- one row per target -------------------------------------------------------
met=0 total=0
summary_row() { printf "| %-44s | %-10s | %-10s | %-7s | %-22s | %-6s |\n" "$@"; }
# target SCENARIO LBRYMOUNT RCLONE RATIO TARGET CONDITION: a row with its
# verdict; CONDITION is an awk expression, an empty one marks it skipped.
target() {
    local v="-"
    if [ -n "$6" ]; then
        total=$((total + 1))
        if awk "BEGIN { exit !($6) }"; then v=met met=$((met + 1)); else v=MISSED; fi
    fi
    summary_row "$1" "$2" "$3" "$4" "$5" "$v"
}
lr=$(mibs "${R[$l.cold_s]}") rr=$(mibs "${R[$r.cold_s]}") l3r=$(mibs "${R[l3.cold_s]}")
q_cold=$(div "${R[$r.cold_s]}" "${R[$l.cold_s]}")
q_sha_l=$(div "$t_sha" "${R[$l.cold_s]}") q_sha_r=$(div "$t_sha" "${R[$r.cold_s]}")
q_cpu=$(div "${R[$l.cpugb]}" "${R[$r.cpugb]}")
q_3=$(div "${R[$l.cold_s]}" "${R[l3.cold_s]}")
q_3cpu=$(div "${R[l3.cpugb]}" "${R[$l.cpugb]}")
q_ttfb=$(div "${R[$l.ttfb]}" "${R[$r.ttfb]}")
q_warm=$(div "${R[$r.warm_s]}" "${R[$l.warm_s]}")
l_med=$(field "${R[$l.rand_cold]}" 1) r_med=$(field "${R[$r.rand_cold]}" 1)
l_p90=$(field "${R[$l.rand_cold]}" 2) r_p90=$(field "${R[$r.rand_cold]}" 2)
q_med=$(div "$l_med" "$r_med") q_p90=$(div "$l_p90" "$r_p90")
l_hwm=$(mib "${R[$l.hwm]}") r_hwm=$(mib "${R[$r.hwm]}")
l_many=$(mib "${R[$l.many_hwm]}") r_many=$(mib "${R[$r.many_hwm]}")

echo "targets (ratio: lbrymount / rclone unless said; the 3-peer ratios are against 1 peer):"
summary_row "scenario" "lbrymount" "rclone" "ratio" "target" "met?"
summary_row "---" "---" "---" "---" "---" "---"
target "cold sequential read, MiB/s" "$lr" "$rr" "${q_cold}x" ">= 1.5x" "$q_cold >= 1.5"
target "  the same / sha384sum's MiB/s" "${q_sha_l}x" "${q_sha_r}x" "" ">= 0.7x" "$q_sha_l >= 0.7"
target "cold sequential, mount CPU-s per GiB" "${R[$l.cpugb]}" "${R[$r.cpugb]}" "${q_cpu}x" "lbrymount <= 2.0" "${R[$l.cpugb]} <= 2.0"
target "  the same / sha384sum's CPU-s per GiB (${c_sha})" "$(div "${R[$l.cpugb]}" "$c_sha")x" "$(div "${R[$r.cpugb]}" "$c_sha")x" "" "-" ""
[ -z "$c_ossl" ] || target "  the same / OpenSSL SHA-384's (${c_ossl}): floor" "$(div "${R[$l.cpugb]}" "$c_ossl")x" "$(div "${R[$r.cpugb]}" "$c_ossl")x" "" "-" ""
target "3 peers: cold sequential, MiB/s" "$l3r" "-" "${q_3}x" ">= 0.95x of 1 peer" "$q_3 >= 0.95"
target "3 peers: mount CPU-s per GiB" "${R[l3.cpugb]}" "-" "${q_3cpu}x" "lbrymount <= 2.0" "${R[l3.cpugb]} <= 2.0"
target "first byte, ms (median of $nttfb mounts)" "${R[$l.ttfb]}" "${R[$r.ttfb]}" "${q_ttfb}x" "<= 1.0x" "$q_ttfb <= 1.0"
q_bare=$(div "${R[$l.bare]}" "${R[$r.bare]}")
target "first byte, nothing before, ms" "${R[$l.bare]}" "${R[$r.bare]}" "${q_bare}x" "<= 1.0x" "$q_bare <= 1.0"
if [ -n "${R[$l.disk_s]}" ] && [ -n "${R[$r.disk_s]}" ]; then
    ld=$(mibs "${R[$l.disk_s]}") rd=$(mibs "${R[$r.disk_s]}")
    q_disk=$(div "${R[$r.disk_s]}" "${R[$l.disk_s]}")
    target "re-read from the disk cache, MiB/s" "$ld" "$rd" "${q_disk}x" ">= 2x" "$q_disk >= 2"
else
    target "re-read from the disk cache, MiB/s" "skipped" "skipped" "" ">= 2x" ""
fi
target "warm re-read (same mount), MiB/s" "$(mibs "${R[$l.warm_s]}")" "$(mibs "${R[$r.warm_s]}")" "${q_warm}x" "> 1.0x" "$q_warm > 1.0"
target "4 KiB pread, cold: median ms" "$l_med" "$r_med" "${q_med}x" "<= 1.0x" "$q_med <= 1.0"
target "4 KiB pread, cold: p90 ms" "$l_p90" "$r_p90" "${q_p90}x" "lbrymount <= 10 ms" "$l_p90 <= 10"
target "peak RSS, 1 streaming reader, MiB" "$l_hwm" "$r_hwm" "$(div "$l_hwm" "$r_hwm")x" "lbrymount < 64 MiB" "${R[$l.hwm]} < 64 * 1024"
target "peak RSS, $nreaders readers, MiB" "$l_many" "$r_many" "$(div "$l_many" "$r_many")x" "lbrymount < 128 MiB" "${R[$l.many_hwm]} < 128 * 1024"
echo "$met of $total targets met"
