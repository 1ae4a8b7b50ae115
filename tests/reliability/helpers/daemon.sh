#!/bin/sh
# daemon.sh DIR ATTEMPT ROUNDS
# Starts writer.sh as a daemon: forked twice, in a session of its own, reparented away from the
# job (init adopts it). Returns once the daemon has written its first line (or after 10 s).
dir=$1; attempt=$2; rounds=$3; here=$(dirname "$0")
( setsid sh "$here/writer.sh" "$dir" "$attempt" daemon "$rounds" </dev/null >/dev/null 2>&1 & )
i=0
until grep -q "^$attempt daemon " "$dir/lines" 2>/dev/null || [ "$i" -ge 200 ]; do
  i=$((i + 1))
  sleep 0.05
done
