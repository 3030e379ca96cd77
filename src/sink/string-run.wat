;; RDB → RESP transcoder for runs of plain string records (issue 12): reads consecutive records
;; `0x00 <len> key <len> value` (RDB_TYPE_STRING, both lengths in the 6-bit `00xxxxxx` or 14-bit
;; `01xxxxxx xxxxxxxx` encodings of Redis src/rdb.c `rdbSaveLen`) and writes, per record, the two
;; bulk strings of an MSET's arguments: `$<klen>\r\n<key>\r\n$<vlen>\r\n<value>\r\n`.
;;
;; Memory (four pages, 256 KiB, never grown so JS views of it stay valid):
;;   [0, 12)            results of the last `run`: bytes consumed, bytes written, stop reason (u32 each)
;;   [1024, 99328)      input: JS copies RDB bytes here (`inputOffset`, up to `inputBytes`)
;;   [99328, 262144)    output: the RESP bytes (`outputOffset`, up to `outputBytes`)
;;
;; Stop reasons (the record it stops at is not consumed; JS takes it, or the next call does):
;;   1 KEYS   `maxRecords` records written
;;   2 BYTES  the output reached `budget` bytes (the record that crossed it is written)
;;   3 INPUT  the input ends inside (or right before) a record
;;   4 OTHER  a byte that is not RDB_TYPE_STRING (an opcode: expiry, SELECTDB, EOF, another type),
;;            or a length that is not 6/14-bit (an int or LZF encoded string, a 32/64-bit length)
;;   5 LIMIT  a key longer than `maxKey` or a value longer than `maxValue` bytes
;;   6 ROOM   the output area is full (not reached with budget ≤ 64 KiB)
;;
;; Source of src/sink/string-run-wasm.ts (base64 of what wabt assembles from this file): regenerate
;; with `npm run build:wasm`; crc64-wasm.test.ts fails when the two differ.
(module
  (memory (export "memory") 4 4)
  (global (export "resultOffset") i32 (i32.const 0))
  (global (export "inputOffset") i32 (i32.const 1024))
  (global (export "inputBytes") i32 (i32.const 98304))
  (global (export "outputOffset") i32 (i32.const 99328))
  (global (export "outputBytes") i32 (i32.const 162816))

  ;; Writes `$<n>\r\n` at $o; returns the address after it.
  (func $header (param $o i32) (param $n i32) (result i32)
    (local $digits i32) (local $q i32)
    (i32.store8 (local.get $o) (i32.const 36))
    (local.set $digits
      (select (i32.const 1)
        (select (i32.const 2)
          (select (i32.const 3)
            (select (i32.const 4) (i32.const 5) (i32.lt_u (local.get $n) (i32.const 10000)))
            (i32.lt_u (local.get $n) (i32.const 1000)))
          (i32.lt_u (local.get $n) (i32.const 100)))
        (i32.lt_u (local.get $n) (i32.const 10))))
    (local.set $q (i32.add (local.get $o) (local.get $digits)))
    (i32.store16 offset=1 (local.get $q) (i32.const 0x0a0d))
    (loop $digit
      (i32.store8 (local.get $q) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (local.set $q (i32.sub (local.get $q) (i32.const 1)))
      (br_if $digit (i32.gt_u (local.get $q) (local.get $o))))
    (i32.add (local.get $o) (i32.add (local.get $digits) (i32.const 3))))

  ;; Transcodes records from input offset `start` (relative to `inputOffset`) up to `end`; returns
  ;; the records written. Stores the input bytes consumed (from `start`), the output bytes written
  ;; (from `outputOffset`) and the stop reason at `resultOffset`. `maxRecords` ≥ 1, `budget` ≥ 1,
  ;; `end` ≤ `inputBytes`.
  (func (export "run")
    (param $start i32) (param $end i32) (param $maxRecords i32) (param $budget i32)
    (param $maxKey i32) (param $maxValue i32) (result i32)
    (local $p i32) (local $e i32) (local $q i32) (local $o i32) (local $n i32) (local $b i32)
    (local $klen i32) (local $kpos i32) (local $vlen i32) (local $vpos i32) (local $reason i32)
    (local.set $p (i32.add (i32.const 1024) (local.get $start)))
    (local.set $e (i32.add (i32.const 1024) (local.get $end)))
    (local.set $o (i32.const 99328))
    (block $stop
      (loop $record
        (local.set $reason (i32.const 1))
        (br_if $stop (i32.ge_u (local.get $n) (local.get $maxRecords)))
        (local.set $reason (i32.const 2))
        (br_if $stop (i32.ge_u (i32.sub (local.get $o) (i32.const 99328)) (local.get $budget)))
        ;; type byte and the key's length (a record needs at least 3 bytes)
        (local.set $reason (i32.const 3))
        (br_if $stop (i32.gt_u (i32.add (local.get $p) (i32.const 2)) (local.get $e)))
        (local.set $reason (i32.const 4))
        (br_if $stop (i32.load8_u (local.get $p)))
        (local.set $b (i32.load8_u offset=1 (local.get $p)))
        (br_if $stop (i32.ge_u (local.get $b) (i32.const 0x80)))
        (if (i32.lt_u (local.get $b) (i32.const 0x40))
          (then
            (local.set $klen (local.get $b))
            (local.set $kpos (i32.add (local.get $p) (i32.const 2))))
          (else
            (local.set $reason (i32.const 3))
            (br_if $stop (i32.ge_u (i32.add (local.get $p) (i32.const 2)) (local.get $e)))
            (local.set $klen (i32.or (i32.shl (i32.and (local.get $b) (i32.const 0x3f)) (i32.const 8))
                                     (i32.load8_u offset=2 (local.get $p))))
            (local.set $kpos (i32.add (local.get $p) (i32.const 3)))))
        (local.set $reason (i32.const 5))
        (br_if $stop (i32.gt_u (local.get $klen) (local.get $maxKey)))
        ;; the value's length
        (local.set $q (i32.add (local.get $kpos) (local.get $klen)))
        (local.set $reason (i32.const 3))
        (br_if $stop (i32.ge_u (local.get $q) (local.get $e)))
        (local.set $b (i32.load8_u (local.get $q)))
        (local.set $reason (i32.const 4))
        (br_if $stop (i32.ge_u (local.get $b) (i32.const 0x80)))
        (if (i32.lt_u (local.get $b) (i32.const 0x40))
          (then
            (local.set $vlen (local.get $b))
            (local.set $vpos (i32.add (local.get $q) (i32.const 1))))
          (else
            (local.set $reason (i32.const 3))
            (br_if $stop (i32.ge_u (i32.add (local.get $q) (i32.const 1)) (local.get $e)))
            (local.set $vlen (i32.or (i32.shl (i32.and (local.get $b) (i32.const 0x3f)) (i32.const 8))
                                     (i32.load8_u offset=1 (local.get $q))))
            (local.set $vpos (i32.add (local.get $q) (i32.const 2)))))
        (local.set $reason (i32.const 5))
        (br_if $stop (i32.gt_u (local.get $vlen) (local.get $maxValue)))
        (local.set $reason (i32.const 3))
        (br_if $stop (i32.gt_u (i32.add (local.get $vpos) (local.get $vlen)) (local.get $e)))
        ;; room for both bulk strings: lengths + 2 × (1 + 5 digits + 4)
        (local.set $reason (i32.const 6))
        (br_if $stop (i32.gt_u (i32.add (i32.add (local.get $o) (i32.const 20)) (i32.add (local.get $klen) (local.get $vlen)))
                               (i32.const 262144)))
        (local.set $o (call $header (local.get $o) (local.get $klen)))
        (memory.copy (local.get $o) (local.get $kpos) (local.get $klen))
        (local.set $o (i32.add (local.get $o) (local.get $klen)))
        (i32.store16 (local.get $o) (i32.const 0x0a0d))
        (local.set $o (call $header (i32.add (local.get $o) (i32.const 2)) (local.get $vlen)))
        (memory.copy (local.get $o) (local.get $vpos) (local.get $vlen))
        (local.set $o (i32.add (local.get $o) (local.get $vlen)))
        (i32.store16 (local.get $o) (i32.const 0x0a0d))
        (local.set $o (i32.add (local.get $o) (i32.const 2)))
        (local.set $p (i32.add (local.get $vpos) (local.get $vlen)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $record)))
    (i32.store (i32.const 0) (i32.sub (local.get $p) (i32.add (i32.const 1024) (local.get $start))))
    (i32.store (i32.const 4) (i32.sub (local.get $o) (i32.const 99328)))
    (i32.store (i32.const 8) (local.get $reason))
    (local.get $n)))
