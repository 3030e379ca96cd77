;; RDB → RESP transcoder for runs of plain string records (issue 12): reads consecutive records
;; `0x00 <len> key <len> value` (RDB_TYPE_STRING, both lengths in the 6-bit `00xxxxxx` or 14-bit
;; `01xxxxxx xxxxxxxx` encodings of Redis src/rdb.c `rdbSaveLen`) and writes, per record, the two
;; bulk strings of an MSET's arguments: `$<klen>\r\n<key>\r\n$<vlen>\r\n<value>\r\n`. Key and
;; value may also be int-encoded (their decimal text is written) or LZF-compressed (decompressed):
;; what Redis and Dragonfly write for numbers and for compressible strings longer than 20 bytes.
;; `run` also takes a record with an expiry, `0xFC <LE64 unix ms> 0x00 <len> key <len> value`
;; (RDB_OPCODE_EXPIRETIME_MS, src/rdb.c `rdbSaveMillisecondTime`): a past one is skipped and
;; counted, a future one becomes a whole command `SET key value PXAT <ms>` in a second output, with
;; its length and its key's place in an index (JS sends each one, named after its key).
;;
;; A second entry, `slots`, writes the same two bulk strings per record into the region of the
;; record's Redis Cluster slot instead (CRC16 of the key or of its hash tag, Redis src/cluster.c
;; `keyHashSlot`): the keys of one slot, sent later as one MSET (src/sink/slot-stage.ts).
;;
;; Memory (265 pages, never grown so JS views of it stay valid; pages never written take no RAM):
;;   [0, 44)            results of the last call (u32 each): bytes consumed, bytes written, stop
;;                      reason, slot of a FULL stop, slots listed, keys held in regions, then (`run`)
;;                      SET … PXAT bytes written, SET … PXAT commands, expired records skipped,
;;                      offset (in the MSET output) and length of the first MSET key written
;;                      (0xffffffff: none)
;;   [1024, 99328)      input: JS copies RDB bytes here (`inputOffset`, up to `inputBytes`)
;;   [99328, 180736)    output of `run`: the MSET arguments (`outputOffset`, up to `outputBytes`)
;;   [180736, 262144)   output of `run`: the SET … PXAT commands (`ttlOutputOffset`, `outputBytes`)
;;   [262144, 262656)   CRC16/XMODEM table, 256 × u16 (JS writes it: Redis src/crc16.c `crc16tab`)
;;   [262656, 327680)   per SET … PXAT command of the last `run`: its length, its key's offset in
;;                      the second output and the key's length (u32 × 3; `ttlIndexOffset`)
;;   [327680, 393216)   per slot: bytes held in its region (u32 × 16384)
;;   [393216, 458752)   per slot: keys held in its region (u32 × 16384)
;;   [458752, 524288)   slots listed since JS last cleared the list, in order (u32 × 16384)
;;   [524288, 540672)   per slot: 1 when listed (u8 × 16384)
;;   [540672, 557056)   scratch: the text of the last int-encoded or LZF value $parse read
;;   [557056, 573440)   scratch: the same of its key
;;   [589824, 17367040) regions: slot s at 589824 + s × `region` (`region` ≤ 1024 bytes)
;;
;; Stop reasons (the record it stops at is not consumed; JS takes it, or the next call does):
;;   1 KEYS   `maxRecords` records written
;;   2 BYTES  the output reached `budget` bytes (the record that crossed it is written)
;;   3 INPUT  the input ends inside (or right before) a record
;;   4 OTHER  a byte that is not RDB_TYPE_STRING (an opcode: SELECTDB, EOF, another type; `slots`:
;;            an expiry), a key or value that has neither a 6/14-bit length nor an int or LZF
;;            encoding with 6/14-bit lengths, corrupt LZF data, or an expiry not in [0, 2^53) ms or
;;            not followed by a string record
;;   5 LIMIT  a key longer than `maxKey` or a value longer than `maxValue` bytes
;;   6 ROOM   an output area or the index is full (not reached with budget ≤ 64 KiB)
;;   7 FULL   (`slots`) the record's slot region cannot take it, or holds `maxKeys` keys: JS sends
;;            the slot (its number is stored at offset 12) and calls again
;;
;; Source of src/sink/string-run-wasm.ts (base64 of what wabt assembles from this file): regenerate
;; with `npm run build:wasm`; crc64-wasm.test.ts fails when the two differ.
(module
  (memory (export "memory") 265 265)
  (global (export "resultOffset") i32 (i32.const 0))
  (global (export "inputOffset") i32 (i32.const 1024))
  (global (export "inputBytes") i32 (i32.const 98304))
  (global (export "outputOffset") i32 (i32.const 99328))
  (global (export "outputBytes") i32 (i32.const 81408))
  (global (export "ttlOutputOffset") i32 (i32.const 180736))
  (global (export "ttlIndexOffset") i32 (i32.const 262656))
  (global (export "crcTableOffset") i32 (i32.const 262144))
  (global (export "slotBytesOffset") i32 (i32.const 327680))
  (global (export "slotKeysOffset") i32 (i32.const 393216))
  (global (export "slotListOffset") i32 (i32.const 458752))
  (global (export "slotListedOffset") i32 (i32.const 524288))
  (global (export "regionsOffset") i32 (i32.const 589824))

  ;; The record $parse read: key and value lengths and addresses.
  (global $klen (mut i32) (i32.const 0))
  (global $kpos (mut i32) (i32.const 0))
  (global $vlen (mut i32) (i32.const 0))
  (global $vpos (mut i32) (i32.const 0))
  ;; Where the record after it begins.
  (global $next (mut i32) (i32.const 0))
  ;; The string $encoded made last: its length, and where the input after it begins.
  (global $elen (mut i32) (i32.const 0))
  (global $enext (mut i32) (i32.const 0))
  ;; Where $write put the key's bytes.
  (global $kout (mut i32) (i32.const 0))

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

  ;; Reads the string record at $p (input ends at $e): sets $klen $kpos $vlen $vpos $next and
  ;; returns 0, or the stop reason (3 INPUT, 4 OTHER, 5 LIMIT) of a record not taken. Key and value
  ;; each have a 6/14-bit length, or an int or LZF encoding ($encoded: the text is made in the key's
  ;; or the value's scratch area, and $kpos / $vpos point there).
  (func $parse (param $p i32) (param $e i32) (param $maxKey i32) (param $maxValue i32) (result i32)
    (local $q i32) (local $b i32) (local $reason i32)
    (local $klen i32) (local $kpos i32) (local $vlen i32) (local $vpos i32)
    (block $out
      ;; type byte and the key's length (a record needs at least 3 bytes)
      (local.set $reason (i32.const 3))
      (br_if $out (i32.gt_u (i32.add (local.get $p) (i32.const 2)) (local.get $e)))
      (local.set $reason (i32.const 4))
      (br_if $out (i32.load8_u (local.get $p)))
      (local.set $b (i32.load8_u offset=1 (local.get $p)))
      (if (i32.ge_u (local.get $b) (i32.const 0xc0))
        (then
          ;; an int-encoded or LZF-compressed key, made in the key scratch area
          (local.set $reason (call $encoded (i32.add (local.get $p) (i32.const 1)) (local.get $e) (local.get $maxKey) (i32.const 557056)))
          (br_if $out (local.get $reason))
          (local.set $klen (global.get $elen))
          (local.set $kpos (i32.const 557056))
          (local.set $q (global.get $enext)))
        (else
          (br_if $out (i32.ge_u (local.get $b) (i32.const 0x80)))
          (if (i32.lt_u (local.get $b) (i32.const 0x40))
            (then
              (local.set $klen (local.get $b))
              (local.set $kpos (i32.add (local.get $p) (i32.const 2))))
            (else
              (local.set $reason (i32.const 3))
              (br_if $out (i32.ge_u (i32.add (local.get $p) (i32.const 2)) (local.get $e)))
              (local.set $klen (i32.or (i32.shl (i32.and (local.get $b) (i32.const 0x3f)) (i32.const 8))
                                       (i32.load8_u offset=2 (local.get $p))))
              (local.set $kpos (i32.add (local.get $p) (i32.const 3)))))
          (local.set $reason (i32.const 5))
          (br_if $out (i32.gt_u (local.get $klen) (local.get $maxKey)))
          (local.set $q (i32.add (local.get $kpos) (local.get $klen)))))
      ;; the value's length or encoding
      (local.set $reason (i32.const 3))
      (br_if $out (i32.ge_u (local.get $q) (local.get $e)))
      (local.set $b (i32.load8_u (local.get $q)))
      (if (i32.ge_u (local.get $b) (i32.const 0xc0))
        (then
          (local.set $reason (call $encoded (local.get $q) (local.get $e) (local.get $maxValue) (i32.const 540672)))
          (br_if $out (local.get $reason))
          (global.set $klen (local.get $klen))
          (global.set $kpos (local.get $kpos))
          (global.set $vlen (global.get $elen))
          (global.set $vpos (i32.const 540672))
          (global.set $next (global.get $enext))
          (br $out)))
      (local.set $reason (i32.const 4))
      (br_if $out (i32.ge_u (local.get $b) (i32.const 0x80)))
      (if (i32.lt_u (local.get $b) (i32.const 0x40))
        (then
          (local.set $vlen (local.get $b))
          (local.set $vpos (i32.add (local.get $q) (i32.const 1))))
        (else
          (local.set $reason (i32.const 3))
          (br_if $out (i32.ge_u (i32.add (local.get $q) (i32.const 1)) (local.get $e)))
          (local.set $vlen (i32.or (i32.shl (i32.and (local.get $b) (i32.const 0x3f)) (i32.const 8))
                                   (i32.load8_u offset=1 (local.get $q))))
          (local.set $vpos (i32.add (local.get $q) (i32.const 2)))))
      (local.set $reason (i32.const 5))
      (br_if $out (i32.gt_u (local.get $vlen) (local.get $maxValue)))
      (local.set $reason (i32.const 3))
      (br_if $out (i32.gt_u (i32.add (local.get $vpos) (local.get $vlen)) (local.get $e)))
      (global.set $klen (local.get $klen))
      (global.set $kpos (local.get $kpos))
      (global.set $vlen (local.get $vlen))
      (global.set $vpos (local.get $vpos))
      (global.set $next (i32.add (local.get $vpos) (local.get $vlen)))
      (local.set $reason (i32.const 0)))
    (local.get $reason))

  ;; Reads the encoded string at $q (its first byte is 0xC0 or more; input ends at $e), Redis
  ;; src/rdb.c `rdbGenericLoadStringObject`: RDB_ENC_INT8/16/32 (0xC0/0xC1/0xC2, a signed
  ;; little-endian integer of 1/2/4 bytes: its decimal text, as `ll2string`) or RDB_ENC_LZF (0xC3
  ;; <clen> <ulen> <clen bytes>, both lengths 6/14-bit: decompressed, `rdbLoadLzfStringObject`).
  ;; Makes the string at $dst (a scratch area of 16 KiB: a 14-bit length always fits) and sets
  ;; $elen (its length) and $enext (where the input after it begins); returns 0, or 3 INPUT,
  ;; 5 LIMIT (longer than $max), 4 OTHER (another encoding, a 32/64-bit length, corrupt LZF data:
  ;; JS takes the record and names the error).
  (func $encoded (param $q i32) (param $e i32) (param $max i32) (param $dst i32) (result i32)
    (local $b i32) (local $x i32) (local $n i32) (local $clen i32) (local $ulen i32) (local $c i32)
    (local.set $b (i32.load8_u (local.get $q)))
    (if (i32.lt_u (local.get $b) (i32.const 0xc3))
      (then
        ;; an integer of 1 << (b - 0xC0) bytes
        (local.set $n (i32.shl (i32.const 1) (i32.sub (local.get $b) (i32.const 0xc0))))
        (if (i32.gt_u (i32.add (i32.add (local.get $q) (i32.const 1)) (local.get $n)) (local.get $e))
          (then (return (i32.const 3))))
        (local.set $x
          (if (result i32) (i32.eq (local.get $n) (i32.const 1))
            (then (i32.load8_s offset=1 (local.get $q)))
            (else
              (if (result i32) (i32.eq (local.get $n) (i32.const 2))
                (then (i32.load16_s offset=1 (local.get $q)))
                (else (i32.load offset=1 (local.get $q)))))))
        (local.set $c (call $itoa (local.get $dst) (local.get $x)))
        (if (i32.gt_u (local.get $c) (local.get $max)) (then (return (i32.const 5))))
        (global.set $elen (local.get $c))
        (global.set $enext (i32.add (i32.add (local.get $q) (i32.const 1)) (local.get $n)))
        (return (i32.const 0))))
    (if (i32.ne (local.get $b) (i32.const 0xc3)) (then (return (i32.const 4))))
    ;; LZF: the compressed and the uncompressed length
    (local.set $q (i32.add (local.get $q) (i32.const 1)))
    (local.set $c (call $shortLen (local.get $q) (local.get $e)))
    (if (i32.lt_s (local.get $c) (i32.const 0)) (then (return (i32.sub (i32.const 0) (local.get $c)))))
    (local.set $clen (i32.shr_u (local.get $c) (i32.const 2)))
    (local.set $q (i32.add (local.get $q) (i32.and (local.get $c) (i32.const 3))))
    (local.set $c (call $shortLen (local.get $q) (local.get $e)))
    (if (i32.lt_s (local.get $c) (i32.const 0)) (then (return (i32.sub (i32.const 0) (local.get $c)))))
    (local.set $ulen (i32.shr_u (local.get $c) (i32.const 2)))
    (local.set $q (i32.add (local.get $q) (i32.and (local.get $c) (i32.const 3))))
    (if (i32.gt_u (local.get $ulen) (local.get $max)) (then (return (i32.const 5))))
    (if (i32.gt_u (i32.add (local.get $q) (local.get $clen)) (local.get $e)) (then (return (i32.const 3))))
    (if (i32.eqz (call $lzf (local.get $q) (i32.add (local.get $q) (local.get $clen)) (local.get $dst) (local.get $ulen)))
      (then (return (i32.const 4))))
    (global.set $elen (local.get $ulen))
    (global.set $enext (i32.add (local.get $q) (local.get $clen)))
    (i32.const 0))

  ;; A 6/14-bit length at $q (input ends at $e), packed `length × 4 + bytes it takes`; -3 when it is
  ;; not whole before $e, -4 for another form (src/decode/rdb/rdb-reader.ts `shortLength`).
  (func $shortLen (param $q i32) (param $e i32) (result i32)
    (local $b i32)
    (if (i32.ge_u (local.get $q) (local.get $e)) (then (return (i32.const -3))))
    (local.set $b (i32.load8_u (local.get $q)))
    (if (i32.lt_u (local.get $b) (i32.const 0x40))
      (then (return (i32.add (i32.shl (local.get $b) (i32.const 2)) (i32.const 1)))))
    (if (i32.ge_u (local.get $b) (i32.const 0x80)) (then (return (i32.const -4))))
    (if (i32.ge_u (i32.add (local.get $q) (i32.const 1)) (local.get $e)) (then (return (i32.const -3))))
    (i32.add
      (i32.shl (i32.or (i32.shl (i32.and (local.get $b) (i32.const 0x3f)) (i32.const 8))
                       (i32.load8_u offset=1 (local.get $q)))
               (i32.const 2))
      (i32.const 2)))

  ;; Writes the decimal text of the signed $x at $o (a '-' first when negative, as Redis `ll2string`);
  ;; returns its length.
  (func $itoa (param $o i32) (param $x i32) (result i32)
    (local $u i32) (local $digits i32) (local $q i32) (local $sign i32)
    (if (i32.lt_s (local.get $x) (i32.const 0))
      (then
        (i32.store8 (local.get $o) (i32.const 45))
        (local.set $sign (i32.const 1))
        ;; 0 - x as unsigned: also right for -2^31
        (local.set $u (i32.sub (i32.const 0) (local.get $x))))
      (else (local.set $u (local.get $x))))
    (local.set $q (local.get $u))
    (loop $count
      (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
      (local.set $q (i32.div_u (local.get $q) (i32.const 10)))
      (br_if $count (local.get $q)))
    (local.set $q (i32.add (i32.add (local.get $o) (local.get $sign)) (local.get $digits)))
    (loop $digit
      (local.set $q (i32.sub (local.get $q) (i32.const 1)))
      (i32.store8 (local.get $q) (i32.add (i32.const 48) (i32.rem_u (local.get $u) (i32.const 10))))
      (local.set $u (i32.div_u (local.get $u) (i32.const 10)))
      (br_if $digit (local.get $u)))
    (i32.add (local.get $sign) (local.get $digits)))

  ;; LZF-decompresses [$ip, $ie) to $op (liblzf `lzf_decompress`, Redis src/lzf_d.c, with its checks
  ;; and those of src/decode/rdb/lzf.ts): 1 when it makes exactly $len bytes, 0 when the data is
  ;; corrupt (a run past the input, a back-reference before the output's start, more than $len bytes)
  ;; or makes fewer. Copies go 8 bytes at a time where they may (a literal run; a back-reference at
  ;; a distance of 8 or more: each word read is already final), byte by byte closer.
  (func $lzf (param $ip i32) (param $ie i32) (param $op i32) (param $len i32) (result i32)
    (local $os i32) (local $oe i32) (local $ctrl i32) (local $n i32) (local $ref i32)
    (local.set $os (local.get $op))
    (local.set $oe (i32.add (local.get $op) (local.get $len)))
    (block $bad
      (loop $next
        (if (i32.ge_u (local.get $ip) (local.get $ie))
          (then (return (i32.eq (local.get $op) (local.get $oe)))))
        (local.set $ctrl (i32.load8_u (local.get $ip)))
        (local.set $ip (i32.add (local.get $ip) (i32.const 1)))
        (if (i32.lt_u (local.get $ctrl) (i32.const 32))
          (then
            ;; a literal run of ctrl + 1 bytes
            (local.set $n (i32.add (local.get $ctrl) (i32.const 1)))
            (br_if $bad (i32.gt_u (i32.add (local.get $op) (local.get $n)) (local.get $oe)))
            (br_if $bad (i32.gt_u (i32.add (local.get $ip) (local.get $n)) (local.get $ie)))
            (call $copy (local.get $op) (local.get $ip) (local.get $n))
            (local.set $op (i32.add (local.get $op) (local.get $n)))
            (local.set $ip (i32.add (local.get $ip) (local.get $n)))
            (br $next)))
        ;; a back-reference: length (ctrl >> 5) + 2, 7 meaning one more length byte; distance from
        ;; (ctrl & 31) << 8 and the next byte, + 1
        (local.set $n (i32.shr_u (local.get $ctrl) (i32.const 5)))
        (if (i32.eq (local.get $n) (i32.const 7))
          (then
            (br_if $bad (i32.ge_u (local.get $ip) (local.get $ie)))
            (local.set $n (i32.add (local.get $n) (i32.load8_u (local.get $ip))))
            (local.set $ip (i32.add (local.get $ip) (i32.const 1)))))
        (br_if $bad (i32.ge_u (local.get $ip) (local.get $ie)))
        (local.set $ref
          (i32.sub (i32.sub (local.get $op) (i32.shl (i32.and (local.get $ctrl) (i32.const 0x1f)) (i32.const 8)))
                   (i32.add (i32.load8_u (local.get $ip)) (i32.const 1))))
        (local.set $ip (i32.add (local.get $ip) (i32.const 1)))
        (local.set $n (i32.add (local.get $n) (i32.const 2)))
        (br_if $bad (i32.lt_s (local.get $ref) (local.get $os)))
        (br_if $bad (i32.gt_u (i32.add (local.get $op) (local.get $n)) (local.get $oe)))
        (if (i32.ge_u (i32.sub (local.get $op) (local.get $ref)) (i32.const 8))
          (then (call $copy (local.get $op) (local.get $ref) (local.get $n)))
          (else
            (if (i32.eq (i32.sub (local.get $op) (local.get $ref)) (i32.const 1))
              (then (memory.fill (local.get $op) (i32.load8_u (local.get $ref)) (local.get $n)))
              (else
                (loop $byte
                  (i32.store8 (local.get $op) (i32.load8_u (local.get $ref)))
                  (local.set $op (i32.add (local.get $op) (i32.const 1)))
                  (local.set $ref (i32.add (local.get $ref) (i32.const 1)))
                  (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                  (br_if $byte (local.get $n)))))))
        (local.set $op (i32.add (local.get $op) (local.get $n)))
        (br $next)))
    (i32.const 0))

  ;; Copies $n bytes from $s to $d forward, 8 at a time, then byte by byte: right when the ranges do
  ;; not overlap or $s is at least 8 bytes before $d (every word read is written before).
  (func $copy (param $d i32) (param $s i32) (param $n i32)
    (block $done
      (loop $words
        (br_if $done (i32.lt_u (local.get $n) (i32.const 8)))
        (i64.store (local.get $d) (i64.load (local.get $s)))
        (local.set $d (i32.add (local.get $d) (i32.const 8)))
        (local.set $s (i32.add (local.get $s) (i32.const 8)))
        (local.set $n (i32.sub (local.get $n) (i32.const 8)))
        (br $words)))
    (block $end
      (loop $bytes
        (br_if $end (i32.eqz (local.get $n)))
        (i32.store8 (local.get $d) (i32.load8_u (local.get $s)))
        (local.set $d (i32.add (local.get $d) (i32.const 1)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $bytes))))

  ;; Writes the record $parse read as two bulk strings at $o; returns the address after them.
  (func $write (param $o i32) (result i32)
    (local $klen i32) (local $vlen i32)
    (local.set $klen (global.get $klen))
    (local.set $vlen (global.get $vlen))
    (local.set $o (call $header (local.get $o) (local.get $klen)))
    (global.set $kout (local.get $o))
    (memory.copy (local.get $o) (global.get $kpos) (local.get $klen))
    (local.set $o (i32.add (local.get $o) (local.get $klen)))
    (i32.store16 (local.get $o) (i32.const 0x0a0d))
    (local.set $o (call $header (i32.add (local.get $o) (i32.const 2)) (local.get $vlen)))
    (memory.copy (local.get $o) (global.get $vpos) (local.get $vlen))
    (local.set $o (i32.add (local.get $o) (local.get $vlen)))
    (i32.store16 (local.get $o) (i32.const 0x0a0d))
    (i32.add (local.get $o) (i32.const 2)))

  ;; Writes the bulk string of the decimal `$ms` (0 ≤ ms < 2^53) at $o: `$<digits>\r\n<ms>\r\n`,
  ;; as RespEncoder.arg of a number; returns the address after it.
  (func $decimal (param $o i32) (param $ms i64) (result i32)
    (local $digits i32) (local $q i64) (local $p i32)
    (local.set $q (local.get $ms))
    (loop $count
      (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
      (local.set $q (i64.div_u (local.get $q) (i64.const 10)))
      (br_if $count (i64.ne (local.get $q) (i64.const 0))))
    (local.set $o (call $header (local.get $o) (local.get $digits)))
    (local.set $p (i32.add (local.get $o) (local.get $digits)))
    (i32.store16 (local.get $p) (i32.const 0x0a0d))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.wrap_i64 (i64.add (i64.const 48) (i64.rem_u (local.get $ms) (i64.const 10)))))
      (local.set $ms (i64.div_u (local.get $ms) (i64.const 10)))
      (br_if $digit (i32.gt_u (local.get $p) (local.get $o))))
    (i32.add (i32.add (local.get $o) (local.get $digits)) (i32.const 2)))

  ;; Writes the record $parse read as `SET key value PXAT $ms` at $o (a whole command) and appends
  ;; its length, key offset (from 180736) and key length to the index; returns the address after it.
  (func $writeTtl (param $o i32) (param $ms i64) (result i32)
    (local $start i32) (local $at i32)
    (local.set $start (local.get $o))
    ;; *5\r\n$3\r\nSET\r\n
    (i64.store (local.get $o) (i64.const 0x0a0d33240a0d352a))
    (i32.store offset=8 (local.get $o) (i32.const 0x0d544553))
    (i32.store8 offset=12 (local.get $o) (i32.const 0x0a))
    (local.set $o (i32.add (local.get $o) (i32.const 13)))
    (local.set $at (i32.add (i32.const 262656) (i32.mul (i32.load (i32.const 28)) (i32.const 12))))
    (i32.store offset=4 (local.get $at) (i32.sub (call $header (local.get $o) (global.get $klen)) (i32.const 180736)))
    (i32.store offset=8 (local.get $at) (global.get $klen))
    (local.set $o (call $write (local.get $o)))
    ;; $4\r\nPXAT\r\n
    (i64.store (local.get $o) (i64.const 0x544158500a0d3424))
    (i32.store16 offset=8 (local.get $o) (i32.const 0x0a0d))
    (local.set $o (i32.add (local.get $o) (i32.const 10)))
    (local.set $o (call $decimal (local.get $o) (local.get $ms)))
    (i32.store (local.get $at) (i32.sub (local.get $o) (local.get $start)))
    (i32.store (i32.const 28) (i32.add (i32.load (i32.const 28)) (i32.const 1)))
    (local.get $o))

  ;; Cluster slot of the key at $k ($klen bytes): CRC16 of its hash tag (the bytes between the first
  ;; `{` and the next `}`, when not empty) or of the whole key, mod 16384 (src/cluster.c `keyHashSlot`).
  (func $slot (param $k i32) (param $klen i32) (result i32)
    (local $i i32) (local $j i32) (local $end i32) (local $crc i32)
    (local.set $end (i32.add (local.get $k) (local.get $klen)))
    (local.set $i (local.get $k))
    (block $whole
      (loop $open
        (br_if $whole (i32.ge_u (local.get $i) (local.get $end)))
        (if (i32.ne (i32.load8_u (local.get $i)) (i32.const 0x7b))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $open))))
      (local.set $j (i32.add (local.get $i) (i32.const 1)))
      (loop $close
        (br_if $whole (i32.ge_u (local.get $j) (local.get $end)))
        (if (i32.ne (i32.load8_u (local.get $j)) (i32.const 0x7d))
          (then
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $close))))
      (br_if $whole (i32.eq (local.get $j) (i32.add (local.get $i) (i32.const 1))))
      (local.set $k (i32.add (local.get $i) (i32.const 1)))
      (local.set $end (local.get $j)))
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $k) (local.get $end)))
        (local.set $crc
          (i32.xor
            (i32.and (i32.shl (local.get $crc) (i32.const 8)) (i32.const 0xffff))
            (i32.load16_u offset=262144
              (i32.shl
                (i32.and (i32.xor (i32.shr_u (local.get $crc) (i32.const 8)) (i32.load8_u (local.get $k))) (i32.const 0xff))
                (i32.const 1)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $byte)))
    (i32.and (local.get $crc) (i32.const 0x3fff)))

  ;; Like `run`, but each record goes to the end of its slot's region (see the memory map) and is
  ;; counted there; stops FULL (7) before a record its slot's region cannot take (bytes ≤ `region`,
  ;; keys < `maxKeys`), or LIMIT (5) when the record is longer than a region. A slot that receives
  ;; its first key since JS cleared the list is appended to the list. Returns the records held.
  (func (export "slots")
    (param $start i32) (param $end i32) (param $region i32) (param $maxKeys i32)
    (param $maxKey i32) (param $maxValue i32) (result i32)
    (local $p i32) (local $e i32) (local $o i32) (local $n i32) (local $reason i32)
    (local $need i32) (local $slot i32) (local $at i32) (local $base i32) (local $used i32)
    (local.set $p (i32.add (i32.const 1024) (local.get $start)))
    (local.set $e (i32.add (i32.const 1024) (local.get $end)))
    (block $stop
      (loop $record
        (local.set $reason (call $parse (local.get $p) (local.get $e) (local.get $maxKey) (local.get $maxValue)))
        (br_if $stop (local.get $reason))
        ;; both bulk strings: lengths + 2 × (1 + 5 digits + 4)
        (local.set $need (i32.add (i32.add (global.get $klen) (global.get $vlen)) (i32.const 20)))
        (local.set $reason (i32.const 5))
        (br_if $stop (i32.gt_u (local.get $need) (local.get $region)))
        (local.set $slot (call $slot (global.get $kpos) (global.get $klen)))
        (local.set $at (i32.shl (local.get $slot) (i32.const 2)))
        (local.set $used (i32.load offset=327680 (local.get $at)))
        (local.set $reason (i32.const 7))
        (i32.store (i32.const 12) (local.get $slot))
        (br_if $stop (i32.gt_u (i32.add (local.get $used) (local.get $need)) (local.get $region)))
        (br_if $stop (i32.ge_u (i32.load offset=393216 (local.get $at)) (local.get $maxKeys)))
        (if (i32.eqz (i32.load8_u offset=524288 (local.get $slot)))
          (then
            (i32.store8 offset=524288 (local.get $slot) (i32.const 1))
            (i32.store offset=458752 (i32.shl (i32.load (i32.const 16)) (i32.const 2)) (local.get $slot))
            (i32.store (i32.const 16) (i32.add (i32.load (i32.const 16)) (i32.const 1)))))
        (local.set $base (i32.add (i32.const 589824) (i32.mul (local.get $slot) (local.get $region))))
        (local.set $o (call $write (i32.add (local.get $base) (local.get $used))))
        (i32.store offset=327680 (local.get $at) (i32.sub (local.get $o) (local.get $base)))
        (i32.store offset=393216 (local.get $at) (i32.add (i32.load offset=393216 (local.get $at)) (i32.const 1)))
        (i32.store (i32.const 20) (i32.add (i32.load (i32.const 20)) (i32.const 1)))
        (local.set $p (global.get $next))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $record)))
    (i32.store (i32.const 0) (i32.sub (local.get $p) (i32.add (i32.const 1024) (local.get $start))))
    (i32.store (i32.const 4) (i32.const 0))
    (i32.store (i32.const 8) (local.get $reason))
    (local.get $n))

  ;; Transcodes records from input offset `start` (relative to `inputOffset`) up to `end`; returns
  ;; the records written (MSET pairs and SET … PXAT commands; expired records are skipped, not
  ;; counted). A record with an expiry is taken when its ms is in [0, 2^53): written when above
  ;; `now` (unix ms), skipped when not. Stores at `resultOffset` the input bytes consumed (from
  ;; `start`), the MSET output bytes (from `outputOffset`), the stop reason, then the SET … PXAT
  ;; bytes (from `ttlOutputOffset`) and commands (see `ttlIndexOffset`), the expired records, and
  ;; where the first MSET key lies in the MSET output. `maxRecords` ≥ 1, `budget` ≥ 1 (both outputs
  ;; together), `end` ≤ `inputBytes`.
  (func (export "run")
    (param $start i32) (param $end i32) (param $maxRecords i32) (param $budget i32)
    (param $maxKey i32) (param $maxValue i32) (param $now f64) (result i32)
    (local $p i32) (local $e i32) (local $o i32) (local $t i32) (local $n i32) (local $reason i32)
    (local $ms i64) (local $q i32)
    (local.set $p (i32.add (i32.const 1024) (local.get $start)))
    (local.set $e (i32.add (i32.const 1024) (local.get $end)))
    (local.set $o (i32.const 99328))
    (local.set $t (i32.const 180736))
    (i32.store (i32.const 28) (i32.const 0))
    (i32.store (i32.const 32) (i32.const 0))
    (i32.store (i32.const 36) (i32.const -1))
    (i32.store (i32.const 40) (i32.const 0))
    (block $stop
      (loop $record
        (local.set $reason (i32.const 1))
        (br_if $stop (i32.ge_u (local.get $n) (local.get $maxRecords)))
        (local.set $reason (i32.const 2))
        (br_if $stop (i32.ge_u (i32.add (i32.sub (local.get $o) (i32.const 99328)) (i32.sub (local.get $t) (i32.const 180736)))
                               (local.get $budget)))
        (local.set $reason (i32.const 3))
        (br_if $stop (i32.ge_u (local.get $p) (local.get $e)))
        (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0xfc))
          (then
            ;; 0xFC, LE64 ms, then the string record
            (local.set $q (i32.add (local.get $p) (i32.const 9)))
            (br_if $stop (i32.gt_u (local.get $q) (local.get $e)))
            (local.set $ms (i64.load offset=1 (local.get $p)))
            (local.set $reason (i32.const 4))
            (br_if $stop (i64.ge_u (local.get $ms) (i64.const 0x20000000000000)))
            (local.set $reason (call $parse (local.get $q) (local.get $e) (local.get $maxKey) (local.get $maxValue)))
            (br_if $stop (local.get $reason))
            (if (f64.le (f64.convert_i64_u (local.get $ms)) (local.get $now))
              (then
                (i32.store (i32.const 32) (i32.add (i32.load (i32.const 32)) (i32.const 1)))
                (local.set $p (global.get $next))
                (br $record)))
            ;; room: lengths + 13 + 2 × (1 + 5 digits + 4) + 10 + (3 + 16 + 2), and an index entry
            (local.set $reason (i32.const 6))
            (br_if $stop (i32.gt_u (i32.add (i32.add (local.get $t) (i32.const 64)) (i32.add (global.get $klen) (global.get $vlen)))
                                   (i32.const 262144)))
            (br_if $stop (i32.ge_u (i32.load (i32.const 28)) (i32.const 5418)))
            (local.set $t (call $writeTtl (local.get $t) (local.get $ms)))
            (local.set $p (global.get $next))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $record)))
        (local.set $reason (call $parse (local.get $p) (local.get $e) (local.get $maxKey) (local.get $maxValue)))
        (br_if $stop (local.get $reason))
        ;; room for both bulk strings: lengths + 2 × (1 + 5 digits + 4)
        (local.set $reason (i32.const 6))
        (br_if $stop (i32.gt_u (i32.add (i32.add (local.get $o) (i32.const 20)) (i32.add (global.get $klen) (global.get $vlen)))
                               (i32.const 180736)))
        (local.set $o (call $write (local.get $o)))
        (if (i32.eq (i32.load (i32.const 36)) (i32.const -1))
          (then
            (i32.store (i32.const 36) (i32.sub (global.get $kout) (i32.const 99328)))
            (i32.store (i32.const 40) (global.get $klen))))
        (local.set $p (global.get $next))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $record)))
    (i32.store (i32.const 0) (i32.sub (local.get $p) (i32.add (i32.const 1024) (local.get $start))))
    (i32.store (i32.const 4) (i32.sub (local.get $o) (i32.const 99328)))
    (i32.store (i32.const 8) (local.get $reason))
    (i32.store (i32.const 24) (i32.sub (local.get $t) (i32.const 180736)))
    (local.get $n)))
