;; CRC-64/Jones (Redis src/crc64.c, polynomial 0xad93d23594c935a9, reflected in and out, initial
;; value 0, no final xor), slice-by-16 over little-endian i64 words (Redis src/crcspeed.c
;; `crcspeed64little` does slice-by-8; two words per step measured faster here).
;;
;; Memory (two pages, 128 KiB, never grown so JS views of it stay valid):
;;   [0, 32768)      16 tables × 256 i64 entries: T[k][n] = CRC of byte n followed by k zero bytes
;;   [32768, 32776)  the CRC after the last `update` (i64, little-endian)
;;   [32832, 98368)  input: JS copies up to `inputBytes` bytes here (8-aligned)
;;
;; Source of src/decode/rdb/crc64-wasm.ts (base64 of what wabt assembles from this file):
;; regenerate with `npm run build:wasm`; crc64-wasm.test.ts fails when the two differ.
(module
  (memory (export "memory") 2 2)
  (global (export "stateOffset") i32 (i32.const 32768))
  (global (export "inputOffset") i32 (i32.const 32832))
  (global (export "inputBytes") i32 (i32.const 65536))

  ;; Fills the 16 tables (Redis crcspeed.c `crcspeed64little_init`): T[0] bit by bit, then
  ;; T[k][n] = (T[k-1][n] >> 8) ^ T[0][T[k-1][n] & 0xff].
  (func $init
    (local $n i32) (local $bit i32) (local $crc i64) (local $k i32)
    (loop $bytes
      (local.set $crc (i64.extend_i32_u (local.get $n)))
      (local.set $bit (i32.const 0))
      (loop $bits
        (local.set $crc
          (i64.xor
            (i64.shr_u (local.get $crc) (i64.const 1))
            (i64.and (i64.const 0x95ac9329ac4bc9b5)
                     (i64.sub (i64.const 0) (i64.and (local.get $crc) (i64.const 1))))))
        (local.set $bit (i32.add (local.get $bit) (i32.const 1)))
        (br_if $bits (i32.lt_u (local.get $bit) (i32.const 8))))
      (i64.store (i32.shl (local.get $n) (i32.const 3)) (local.get $crc))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $bytes (i32.lt_u (local.get $n) (i32.const 256))))
    ;; k*256 + n over k = 1..15 as one index $n from 256 to 4095: the entry 256 before is T[k-1][n]
    (local.set $n (i32.const 256))
    (loop $rest
      (local.set $crc (i64.load (i32.shl (i32.sub (local.get $n) (i32.const 256)) (i32.const 3))))
      (i64.store (i32.shl (local.get $n) (i32.const 3))
        (i64.xor
          (i64.shr_u (local.get $crc) (i64.const 8))
          (i64.load (i32.shl (i32.and (i32.wrap_i64 (local.get $crc)) (i32.const 0xff)) (i32.const 3)))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $rest (i32.lt_u (local.get $n) (i32.const 4096)))))
  (start $init)

  ;; Continues the CRC given as two u32 halves over the `len` bytes at `inputOffset`; stores the new
  ;; CRC at `stateOffset` and returns its low half. `len` must be ≤ `inputBytes`.
  (func (export "update") (param $lo i32) (param $hi i32) (param $len i32) (result i32)
    (local $crc i64) (local $p i32) (local $end16 i32) (local $end i32) (local $a i32) (local $b i32)
    (local $c i32) (local $d i32)
    (local.set $crc (i64.or (i64.extend_i32_u (local.get $lo))
                            (i64.shl (i64.extend_i32_u (local.get $hi)) (i64.const 32))))
    (local.set $p (i32.const 32832))
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (local.set $end16 (i32.add (local.get $p) (i32.and (local.get $len) (i32.const -16))))
    (if (i32.lt_u (local.get $p) (local.get $end16))
      (then
        (loop $words
          ;; a,b: the first word xor the CRC; c,d: the second word. Byte j of the 16 goes through
          ;; T[15 - j]; the address of a byte x<<3 in [0, 2048) is (word >> (8j - 3)) & 0x7f8.
          (local.set $crc (i64.xor (local.get $crc) (i64.load (local.get $p))))
          (local.set $a (i32.wrap_i64 (local.get $crc)))
          (local.set $b (i32.wrap_i64 (i64.shr_u (local.get $crc) (i64.const 32))))
          (local.set $c (i32.load offset=8 (local.get $p)))
          (local.set $d (i32.load offset=12 (local.get $p)))
          (local.set $crc
            (i64.xor
              (i64.xor
                (i64.xor
                  (i64.xor
                    (i64.load offset=30720 (i32.and (i32.shl (local.get $a) (i32.const 3)) (i32.const 0x7f8)))
                    (i64.load offset=28672 (i32.and (i32.shr_u (local.get $a) (i32.const 5)) (i32.const 0x7f8))))
                  (i64.xor
                    (i64.load offset=26624 (i32.and (i32.shr_u (local.get $a) (i32.const 13)) (i32.const 0x7f8)))
                    (i64.load offset=24576 (i32.and (i32.shr_u (local.get $a) (i32.const 21)) (i32.const 0x7f8)))))
                (i64.xor
                  (i64.xor
                    (i64.load offset=22528 (i32.and (i32.shl (local.get $b) (i32.const 3)) (i32.const 0x7f8)))
                    (i64.load offset=20480 (i32.and (i32.shr_u (local.get $b) (i32.const 5)) (i32.const 0x7f8))))
                  (i64.xor
                    (i64.load offset=18432 (i32.and (i32.shr_u (local.get $b) (i32.const 13)) (i32.const 0x7f8)))
                    (i64.load offset=16384 (i32.and (i32.shr_u (local.get $b) (i32.const 21)) (i32.const 0x7f8))))))
              (i64.xor
                (i64.xor
                  (i64.xor
                    (i64.load offset=14336 (i32.and (i32.shl (local.get $c) (i32.const 3)) (i32.const 0x7f8)))
                    (i64.load offset=12288 (i32.and (i32.shr_u (local.get $c) (i32.const 5)) (i32.const 0x7f8))))
                  (i64.xor
                    (i64.load offset=10240 (i32.and (i32.shr_u (local.get $c) (i32.const 13)) (i32.const 0x7f8)))
                    (i64.load offset=8192 (i32.and (i32.shr_u (local.get $c) (i32.const 21)) (i32.const 0x7f8)))))
                (i64.xor
                  (i64.xor
                    (i64.load offset=6144 (i32.and (i32.shl (local.get $d) (i32.const 3)) (i32.const 0x7f8)))
                    (i64.load offset=4096 (i32.and (i32.shr_u (local.get $d) (i32.const 5)) (i32.const 0x7f8))))
                  (i64.xor
                    (i64.load offset=2048 (i32.and (i32.shr_u (local.get $d) (i32.const 13)) (i32.const 0x7f8)))
                    (i64.load (i32.and (i32.shr_u (local.get $d) (i32.const 21)) (i32.const 0x7f8))))))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $words (i32.lt_u (local.get $p) (local.get $end16))))))
    ;; The last 0..15 bytes one at a time: crc = T[0][(crc ^ byte) & 0xff] ^ (crc >> 8).
    (block $done
      (loop $bytes
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $crc
          (i64.xor
            (i64.load (i32.shl
                        (i32.and (i32.xor (i32.wrap_i64 (local.get $crc)) (i32.load8_u (local.get $p)))
                                 (i32.const 0xff))
                        (i32.const 3)))
            (i64.shr_u (local.get $crc) (i64.const 8))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $bytes)))
    (i64.store (i32.const 32768) (local.get $crc))
    (i32.wrap_i64 (local.get $crc))))
