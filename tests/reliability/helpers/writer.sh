#!/bin/sh
# writer.sh DIR ATTEMPT ROLE ROUNDS
# Holds DIR/lock for as long as it (or any process it started) lives and appends
# "ATTEMPT ROLE PID TIME" to DIR/lines every 0.1 s, ROUNDS times (0: until killed). A writer that
# finds the lock taken records a violation: a writer of another attempt is still alive.
dir=$1; attempt=$2; role=$3; rounds=$4
exec 9>>"$dir/lock"
flock -n 9 || echo "attempt $attempt $role $$: a writer of an earlier attempt still holds the lock" >> "$dir/violations"
echo "$attempt $role $$" >> "$dir/pids"
i=0
while [ "$rounds" = 0 ] || [ "$i" -lt "$rounds" ]; do
  echo "$attempt $role $$ $(date +%s.%N)" >> "$dir/lines"
  i=$((i + 1))
  sleep 0.1
done
