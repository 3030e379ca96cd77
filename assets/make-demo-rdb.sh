#!/usr/bin/env bash
# Regenerates assets/demo.rdb with a real redis-server (Debian package, 7.0): a few keys of every
# type Redis 7.0 can store, in several encodings, three databases, expiries and a function library.
# Usage: assets/make-demo-rdb.sh   (needs redis-server and redis-cli on PATH)
set -euo pipefail
cd "$(dirname "$0")"
dir=$(mktemp -d)
port=$(( 20000 + RANDOM % 20000 ))
redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no --daemonize no >"$dir/log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
cli() { redis-cli -p "$port" "$@" >/dev/null; }

# Absolute expiry far in the future (2100-01-01) so the demo never loses keys to time.
far=4102444800000

# db 0: strings (int, embstr, raw, LZF-compressed), with and without expiry
cli SET demo:string:int 12345
cli SET demo:string:short "hello from df2redis"
cli SET demo:string:raw "$(printf 'x%.0s' $(seq 60))-raw-encoded-string"
cli SET demo:string:compressible "$(printf 'abcdefgh%.0s' $(seq 200))"
cli SET demo:string:expiring "expires in 2100"
cli PEXPIREAT demo:string:expiring "$far"
# lists: small (listpack node) and big (several quicklist nodes, several pieces)
cli RPUSH demo:list:small a b c 1 2 3
seq 1 3000 | sed 's/^/RPUSH demo:list:big item-/' | redis-cli -p "$port" >/dev/null
# sets: intset, hashtable
cli SADD demo:set:intset 1 2 3 5 8 13 21
cli SADD demo:set:strings red green blue
seq 1 2000 | sed 's/^/SADD demo:set:big member-/' | redis-cli -p "$port" >/dev/null
# sorted sets: listpack, skiplist, with infinities
cli ZADD demo:zset:small 1 one 2 two 3.5 three-and-a-half -inf minus-inf +inf plus-inf
seq 1 1000 | awk '{print "ZADD demo:zset:big " $1/10 " member-" $1}' | redis-cli -p "$port" >/dev/null
# hashes: listpack, hashtable
cli HSET demo:hash:small name df2redis kind replicator
seq 1 1000 | sed 's/^\(.*\)$/HSET demo:hash:big field-\1 value-\1/' | redis-cli -p "$port" >/dev/null
cli PEXPIREAT demo:hash:small "$far"
# stream with a consumer group, consumers and pending entries
for i in 1 2 3 4 5; do cli XADD demo:stream "$i-0" sensor "s$i" value "$((i * 10))"; done
cli XGROUP CREATE demo:stream readers 0
cli XREADGROUP GROUP readers alice COUNT 2 STREAMS demo:stream '>'
cli XREADGROUP GROUP readers bob COUNT 1 STREAMS demo:stream '>'
cli XDEL demo:stream 4-0
# binary key
printf 'SET "demo:binary:\\x00\\xff" "bytes \\x01\\x02"\n' | redis-cli -p "$port" >/dev/null

# db 1 and db 2
cli -n 1 SET demo:db1:string "in db 1"
cli -n 1 LPUSH demo:db1:list x y z
cli -n 2 HSET demo:db2:hash f v
cli -n 2 SET demo:db2:expiring v
cli -n 2 PEXPIREAT demo:db2:expiring "$far"

# a function library (RDB opcode FUNCTION2)
cli FUNCTION LOAD "#!lua name=demolib
redis.register_function('demo_echo', function(keys, args) return args[1] end)"

cli SAVE
cp "$dir/dump.rdb" demo.rdb
for db in 0 1 2; do echo "db $db: $(redis-cli -p "$port" -n "$db" DBSIZE) keys"; done
