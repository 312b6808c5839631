;; Matrix products with 8-bit (q8) and 16-bit (f16) weights in WebAssembly SIMD: y = x·W + b for M
;; rows of x (one per sequence in a decode step, one per prompt token in a prefill).
;;
;; Why: a decode step reads every weight once per token, so it runs at the speed memory delivers
;; weights. int8 weights are a quarter of float32's bytes and f16 half; these kernels read them
;; straight from this module's memory, where the model's weights are kept.
;;
;; Layouts (byte offsets into this module's memory; K inputs, N outputs, M rows):
;;   q8 weights  w[N, Kp] int8 in -127..127, each output channel's Kp numbers contiguous (Kp = K
;;               rounded up to 16, zero-padded), with scale[N] f32 and wsum[N] i32 = Σ_k w[n, k]:
;;               W[k, n] ≈ scale[n]·w[n, k]
;;   q8 rows     x quantized per row to 7 bits with a zero point, x[m, k] ≈ sx[m]·(q[m, k] − z[m]),
;;               q in 0..127; params[m] = (sx f32, z i32). q is stored as bytes in the relaxed
;;               build (the second operand of relaxed_dot must be 0..127) and as i16 in the plain
;;               build (for i32x4.dot_i16x8_s); both give the same integer sums, bit for bit.
;;               y[m, n] = scale[n]·sx[m]·(Σ_k w[n, k]·q[m, k] − z[m]·wsum[n]) + b[n]
;;   f16 weights w[N, Kp] IEEE half, Kp = K rounded up to 8, subnormals flushed to zero. A half
;;               in the top of a 32-bit lane, shifted right by 3 (arithmetic) and masked is the
;;               float32 w·2^-112 (same sign and mantissa, exponent 112 lower). Loaded as i32x4,
;;               8 halves give the odd k in the lanes' tops (shift, mask) and the even k in their
;;               bottoms (one more shift left by 16): no shuffles. So f16_rows stores each row as
;;               x·2^112 with every group of 8 reordered to k = 0 2 4 6 1 3 5 7, and the products
;;               need no further conversion.
;;   out[M, N]   f32 (+ b[N] when bias ≠ 0); a call writes only the output channels nFrom..nTo-1,
;;               so threads sharing the memory each take a slice of N (nFrom a multiple of 32: the
;;               same blocks as one call over all of N, so the same sums, bit for bit)
;;
;; Loops: outputs in blocks of 32 (a block's weights stay in cache while every row passes), rows
;; four at a time (each weight loaded once for four rows) and one at a time for a lone last row.
;; f16 keeps its even-k and odd-k products in separate sums, and takes a lone row's output channels
;; four at a time: a sum that waits on its own previous multiply-add every step (4 cycles with
;; relaxed_madd) would otherwise bound the loop, not the loads (3× slower in Chromium).
;;
;; Four builds come from this file (scripts/build-wasm.mjs): plain SIMD, and relaxed SIMD, where a
;; line `;;relaxed: CODE` becomes CODE and the lines between `;;plain{` and `;;}plain` go; each with
;; the memory as written (a plain memory) and with it `shared` (threads: src/backend/simd/threads.ts).
(module
  ;; The memory is the caller's: a plain one, or (the threaded build) one shared by every thread.
  (import "env" "memory" (memory 1 65536))

  ;; Quantizes M rows of K floats at x: params[m] = (sx, z), q[m, 0..Kp) (pads 0).
  (func (export "quantize_rows") (param $x i32) (param $M i32) (param $K i32) (param $q i32) (param $Kp i32) (param $params i32)
    (local $m i32) (local $p i32) (local $end i32) (local $end4 i32) (local $o i32) (local $oend i32)
    (local $vmin v128) (local $vmax v128) (local $v v128) (local $vinv v128) (local $vz v128)
    (local $lo f32) (local $hi f32) (local $s f32) (local $inv f32) (local $z i32) (local $t i32)
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $m) (local.get $M)))
      (local.set $p (i32.add (local.get $x) (i32.shl (i32.mul (local.get $m) (local.get $K)) (i32.const 2))))
      (local.set $end (i32.add (local.get $p) (i32.shl (local.get $K) (i32.const 2))))
      (local.set $end4 (i32.add (local.get $p) (i32.shl (i32.and (local.get $K) (i32.const -4)) (i32.const 2))))
      ;; the row's range, widened to include 0 so that z lies in 0..127
      (local.set $vmin (v128.const f32x4 0 0 0 0))
      (local.set $vmax (v128.const f32x4 0 0 0 0))
      (block $b1 (loop $l1
        (br_if $b1 (i32.ge_u (local.get $p) (local.get $end4)))
        (local.set $v (v128.load (local.get $p)))
        (local.set $vmin (f32x4.min (local.get $vmin) (local.get $v)))
        (local.set $vmax (f32x4.max (local.get $vmax) (local.get $v)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $l1)))
      (local.set $lo (f32.min (f32.min (f32x4.extract_lane 0 (local.get $vmin)) (f32x4.extract_lane 1 (local.get $vmin)))
                              (f32.min (f32x4.extract_lane 2 (local.get $vmin)) (f32x4.extract_lane 3 (local.get $vmin)))))
      (local.set $hi (f32.max (f32.max (f32x4.extract_lane 0 (local.get $vmax)) (f32x4.extract_lane 1 (local.get $vmax)))
                              (f32.max (f32x4.extract_lane 2 (local.get $vmax)) (f32x4.extract_lane 3 (local.get $vmax)))))
      (block $b2 (loop $l2
        (br_if $b2 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $lo (f32.min (local.get $lo) (f32.load (local.get $p))))
        (local.set $hi (f32.max (local.get $hi) (f32.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $l2)))
      (local.set $s (f32.div (f32.sub (local.get $hi) (local.get $lo)) (f32.const 127)))
      (if (f32.eq (local.get $s) (f32.const 0)) (then (local.set $s (f32.const 1))))
      (local.set $inv (f32.div (f32.const 1) (local.get $s)))
      (local.set $z (i32.trunc_sat_f32_s (f32.nearest (f32.mul (f32.neg (local.get $lo)) (local.get $inv)))))
      (f32.store (i32.add (local.get $params) (i32.shl (local.get $m) (i32.const 3))) (local.get $s))
      (i32.store offset=4 (i32.add (local.get $params) (i32.shl (local.get $m) (i32.const 3))) (local.get $z))
      ;; q = clamp(round(x / sx) + z, 0, 127)
      (local.set $vinv (f32x4.splat (local.get $inv)))
      (local.set $vz (i32x4.splat (local.get $z)))
      (local.set $p (i32.sub (local.get $end) (i32.shl (local.get $K) (i32.const 2))))
;;plain{
      (local.set $o (i32.add (local.get $q) (i32.shl (i32.mul (local.get $m) (local.get $Kp)) (i32.const 1))))
      (local.set $oend (i32.add (local.get $o) (i32.shl (local.get $Kp) (i32.const 1))))
;;}plain
;;relaxed: (local.set $o (i32.add (local.get $q) (i32.mul (local.get $m) (local.get $Kp))))
;;relaxed: (local.set $oend (i32.add (local.get $o) (local.get $Kp)))
      (block $b3 (loop $l3
        (br_if $b3 (i32.ge_u (local.get $p) (local.get $end4)))
        (local.set $v (i32x4.min_s (i32x4.max_s
          (i32x4.add (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load (local.get $p)) (local.get $vinv)))) (local.get $vz))
          (v128.const i32x4 0 0 0 0)) (v128.const i32x4 127 127 127 127)))
;;plain{
        (v128.store64_lane 0 (local.get $o) (i16x8.narrow_i32x4_s (local.get $v) (local.get $v)))
        (local.set $o (i32.add (local.get $o) (i32.const 8)))
;;}plain
;;relaxed: (v128.store32_lane 0 (local.get $o) (i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_s (local.get $v) (local.get $v)) (local.get $v)))
;;relaxed: (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $l3)))
      (block $b4 (loop $l4
        (br_if $b4 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $t (i32.add (i32.trunc_sat_f32_s (f32.nearest (f32.mul (f32.load (local.get $p)) (local.get $inv)))) (local.get $z)))
        (local.set $t (select (i32.const 0) (local.get $t) (i32.lt_s (local.get $t) (i32.const 0))))
        (local.set $t (select (i32.const 127) (local.get $t) (i32.gt_s (local.get $t) (i32.const 127))))
;;plain{
        (i32.store16 (local.get $o) (local.get $t))
        (local.set $o (i32.add (local.get $o) (i32.const 2)))
;;}plain
;;relaxed: (i32.store8 (local.get $o) (local.get $t))
;;relaxed: (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $l4)))
      (block $b5 (loop $l5
        (br_if $b5 (i32.ge_u (local.get $o) (local.get $oend)))
        (i32.store8 (local.get $o) (i32.const 0))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $l5)))
      (local.set $m (i32.add (local.get $m) (i32.const 1)))
      (br $rows))))

  ;; Σ of the four lanes.
  (func $hsum_i32 (param $v v128) (result i32)
    (i32.add (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
             (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))
  (func $hsum_f32 (param $v v128) (result f32)
    (f32.add (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
             (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; out[row, n] from the integer sum of a q8 row with output channel n (see the layout above).
  (func $q8_store (param $acc v128) (param $row i32) (param $n i32) (param $params i32) (param $scale i32) (param $wsum i32) (param $bias i32) (param $N i32) (param $out i32)
    (local $pp i32) (local $y f32)
    (local.set $pp (i32.add (local.get $params) (i32.shl (local.get $row) (i32.const 3))))
    (local.set $y
      (f32.mul
        (f32.convert_i32_s (i32.sub (call $hsum_i32 (local.get $acc))
          (i32.mul (i32.load offset=4 (local.get $pp)) (i32.load (i32.add (local.get $wsum) (i32.shl (local.get $n) (i32.const 2)))))))
        (f32.mul (f32.load (local.get $pp)) (f32.load (i32.add (local.get $scale) (i32.shl (local.get $n) (i32.const 2)))))))
    (if (local.get $bias) (then
      (local.set $y (f32.add (local.get $y) (f32.load (i32.add (local.get $bias) (i32.shl (local.get $n) (i32.const 2))))))))
    (f32.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $row) (local.get $N)) (local.get $n)) (i32.const 2))) (local.get $y)))

  ;; out[M, nFrom..nTo) = dequantized(q rows) · W (+ bias): q8 weights, q8 rows from quantize_rows.
  (func (export "q8_matmul")
    (param $q i32) (param $params i32) (param $M i32) (param $Kp i32)
    (param $w i32) (param $scale i32) (param $wsum i32) (param $bias i32) (param $N i32) (param $out i32)
    (param $nFrom i32) (param $nTo i32)
    (local $n0 i32) (local $n1 i32) (local $n i32) (local $m i32) (local $k i32) (local $qstride i32)
    (local $r1 i32) (local $r2 i32) (local $r3 i32) (local $rows i32)
    (local $wp i32) (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32)
    (local $wv v128) (local $wlo v128) (local $whi v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
;;plain{
    (local.set $qstride (i32.shl (local.get $Kp) (i32.const 1)))
;;}plain
;;relaxed: (local.set $qstride (local.get $Kp))
    (local.set $n0 (local.get $nFrom))
    (block $blocks_done (loop $blocks
      (br_if $blocks_done (i32.ge_u (local.get $n0) (local.get $nTo)))
      (local.set $n1 (select (local.get $nTo) (i32.add (local.get $n0) (i32.const 32)) (i32.lt_u (local.get $nTo) (i32.add (local.get $n0) (i32.const 32)))))
      (local.set $m (i32.const 0))
      (block $rows_done (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $m) (local.get $M)))
        (local.set $rows (i32.sub (local.get $M) (local.get $m)))
        (if (i32.ge_u (local.get $rows) (i32.const 2))
          (then
            ;; four rows (a short group repeats its last row and stores only the real ones)
            (local.set $r1 (i32.add (local.get $m) (i32.const 1)))
            (local.set $r2 (select (i32.add (local.get $m) (i32.const 2)) (local.get $r1) (i32.ge_u (local.get $rows) (i32.const 3))))
            (local.set $r3 (select (i32.add (local.get $m) (i32.const 3)) (local.get $r2) (i32.ge_u (local.get $rows) (i32.const 4))))
            (local.set $n (local.get $n0))
            (block $cols_done (loop $cols
              (br_if $cols_done (i32.ge_u (local.get $n) (local.get $n1)))
              (local.set $wp (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $Kp))))
              (local.set $x0 (i32.add (local.get $q) (i32.mul (local.get $m) (local.get $qstride))))
              (local.set $x1 (i32.add (local.get $q) (i32.mul (local.get $r1) (local.get $qstride))))
              (local.set $x2 (i32.add (local.get $q) (i32.mul (local.get $r2) (local.get $qstride))))
              (local.set $x3 (i32.add (local.get $q) (i32.mul (local.get $r3) (local.get $qstride))))
              (local.set $a0 (v128.const i32x4 0 0 0 0))
              (local.set $a1 (v128.const i32x4 0 0 0 0))
              (local.set $a2 (v128.const i32x4 0 0 0 0))
              (local.set $a3 (v128.const i32x4 0 0 0 0))
              (local.set $k (i32.const 0))
              (block $dot_done (loop $dot
                (br_if $dot_done (i32.ge_u (local.get $k) (local.get $Kp)))
                (local.set $wv (v128.load (i32.add (local.get $wp) (local.get $k))))
;;plain{
                (local.set $wlo (i16x8.extend_low_i8x16_s (local.get $wv)))
                (local.set $whi (i16x8.extend_high_i8x16_s (local.get $wv)))
                (local.set $a0 (i32x4.add (local.get $a0) (i32x4.add (i32x4.dot_i16x8_s (local.get $wlo) (v128.load (local.get $x0))) (i32x4.dot_i16x8_s (local.get $whi) (v128.load offset=16 (local.get $x0))))))
                (local.set $a1 (i32x4.add (local.get $a1) (i32x4.add (i32x4.dot_i16x8_s (local.get $wlo) (v128.load (local.get $x1))) (i32x4.dot_i16x8_s (local.get $whi) (v128.load offset=16 (local.get $x1))))))
                (local.set $a2 (i32x4.add (local.get $a2) (i32x4.add (i32x4.dot_i16x8_s (local.get $wlo) (v128.load (local.get $x2))) (i32x4.dot_i16x8_s (local.get $whi) (v128.load offset=16 (local.get $x2))))))
                (local.set $a3 (i32x4.add (local.get $a3) (i32x4.add (i32x4.dot_i16x8_s (local.get $wlo) (v128.load (local.get $x3))) (i32x4.dot_i16x8_s (local.get $whi) (v128.load offset=16 (local.get $x3))))))
                (local.set $x0 (i32.add (local.get $x0) (i32.const 32)))
                (local.set $x1 (i32.add (local.get $x1) (i32.const 32)))
                (local.set $x2 (i32.add (local.get $x2) (i32.const 32)))
                (local.set $x3 (i32.add (local.get $x3) (i32.const 32)))
;;}plain
;;relaxed: (local.set $a0 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $wv) (v128.load (local.get $x0)) (local.get $a0)))
;;relaxed: (local.set $a1 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $wv) (v128.load (local.get $x1)) (local.get $a1)))
;;relaxed: (local.set $a2 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $wv) (v128.load (local.get $x2)) (local.get $a2)))
;;relaxed: (local.set $a3 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $wv) (v128.load (local.get $x3)) (local.get $a3)))
;;relaxed: (local.set $x0 (i32.add (local.get $x0) (i32.const 16)))
;;relaxed: (local.set $x1 (i32.add (local.get $x1) (i32.const 16)))
;;relaxed: (local.set $x2 (i32.add (local.get $x2) (i32.const 16)))
;;relaxed: (local.set $x3 (i32.add (local.get $x3) (i32.const 16)))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br $dot)))
              (call $q8_store (local.get $a0) (local.get $m) (local.get $n) (local.get $params) (local.get $scale) (local.get $wsum) (local.get $bias) (local.get $N) (local.get $out))
              (call $q8_store (local.get $a1) (local.get $r1) (local.get $n) (local.get $params) (local.get $scale) (local.get $wsum) (local.get $bias) (local.get $N) (local.get $out))
              (call $q8_store (local.get $a2) (local.get $r2) (local.get $n) (local.get $params) (local.get $scale) (local.get $wsum) (local.get $bias) (local.get $N) (local.get $out))
              (call $q8_store (local.get $a3) (local.get $r3) (local.get $n) (local.get $params) (local.get $scale) (local.get $wsum) (local.get $bias) (local.get $N) (local.get $out))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br $cols)))
            (local.set $m (i32.add (local.get $m) (select (i32.const 4) (local.get $rows) (i32.ge_u (local.get $rows) (i32.const 4))))))
          (else
            ;; one row
            (local.set $n (local.get $n0))
            (block $cols1_done (loop $cols1
              (br_if $cols1_done (i32.ge_u (local.get $n) (local.get $n1)))
              (local.set $wp (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $Kp))))
              (local.set $x0 (i32.add (local.get $q) (i32.mul (local.get $m) (local.get $qstride))))
              (local.set $a0 (v128.const i32x4 0 0 0 0))
              (local.set $k (i32.const 0))
              (block $dot1_done (loop $dot1
                (br_if $dot1_done (i32.ge_u (local.get $k) (local.get $Kp)))
                (local.set $wv (v128.load (i32.add (local.get $wp) (local.get $k))))
;;plain{
                (local.set $a0 (i32x4.add (local.get $a0) (i32x4.add
                  (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (v128.load (local.get $x0)))
                  (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (v128.load offset=16 (local.get $x0))))))
                (local.set $x0 (i32.add (local.get $x0) (i32.const 32)))
;;}plain
;;relaxed: (local.set $a0 (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $wv) (v128.load (local.get $x0)) (local.get $a0)))
;;relaxed: (local.set $x0 (i32.add (local.get $x0) (i32.const 16)))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br $dot1)))
              (call $q8_store (local.get $a0) (local.get $m) (local.get $n) (local.get $params) (local.get $scale) (local.get $wsum) (local.get $bias) (local.get $N) (local.get $out))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br $cols1)))
            (local.set $m (i32.add (local.get $m) (i32.const 1)))))
        (br $rows)))
      (local.set $n0 (local.get $n1))
      (br $blocks))))

  ;; out[M, Kp] = x[M, K] · 2^112, zero-padded: the rows f16_matmul reads.
  (func (export "f16_rows") (param $x i32) (param $M i32) (param $K i32) (param $out i32) (param $Kp i32)
    (local $m i32) (local $k i32) (local $src i32) (local $dst i32)
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $m) (local.get $M)))
      (local.set $src (i32.add (local.get $x) (i32.shl (i32.mul (local.get $m) (local.get $K)) (i32.const 2))))
      (local.set $dst (i32.add (local.get $out) (i32.shl (i32.mul (local.get $m) (local.get $Kp)) (i32.const 2))))
      (local.set $k (i32.const 0))
      (block $k_done (loop $ks
        (br_if $k_done (i32.ge_u (local.get $k) (local.get $Kp)))
        ;; within each group of 8: the even k first, then the odd (see the layout above)
        (f32.store (i32.add (local.get $dst) (i32.shl
            (i32.or (i32.and (local.get $k) (i32.const -8))
              (i32.or (i32.shl (i32.and (local.get $k) (i32.const 1)) (i32.const 2)) (i32.and (i32.shr_u (local.get $k) (i32.const 1)) (i32.const 3))))
            (i32.const 2)))
          (select
            (f32.mul (f32.load (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2)))) (f32.const 0x1p112))
            (f32.const 0)
            (i32.lt_u (local.get $k) (local.get $K))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $ks)))
      (local.set $m (i32.add (local.get $m) (i32.const 1)))
      (br $rows))))

  ;; out[row, n] = Σ lanes (+ bias[n]).
  (func $f32_store (param $acc v128) (param $row i32) (param $n i32) (param $bias i32) (param $N i32) (param $out i32)
    (local $y f32)
    (local.set $y (call $hsum_f32 (local.get $acc)))
    (if (local.get $bias) (then
      (local.set $y (f32.add (local.get $y) (f32.load (i32.add (local.get $bias) (i32.shl (local.get $n) (i32.const 2))))))))
    (f32.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $row) (local.get $N)) (local.get $n)) (i32.const 2))) (local.get $y)))

  ;; out[M, nFrom..nTo) = x · W (+ bias): f16 weights w[N, Kp], rows from f16_rows.
  (func (export "f16_matmul")
    (param $x i32) (param $M i32) (param $Kp i32) (param $w i32) (param $bias i32) (param $N i32) (param $out i32)
    (param $nFrom i32) (param $nTo i32)
    (local $n0 i32) (local $n1 i32) (local $n i32) (local $m i32) (local $k i32) (local $xstride i32) (local $wstride i32)
    (local $r1 i32) (local $r2 i32) (local $r3 i32) (local $rows i32)
    (local $wp i32) (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32)
    (local $w1 i32) (local $w2 i32) (local $w3 i32)
    (local $h v128) (local $lo v128) (local $hi v128) (local $xl v128) (local $xh v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local.set $xstride (i32.shl (local.get $Kp) (i32.const 2)))
    (local.set $wstride (i32.shl (local.get $Kp) (i32.const 1)))
    (local.set $n0 (local.get $nFrom))
    (block $blocks_done (loop $blocks
      (br_if $blocks_done (i32.ge_u (local.get $n0) (local.get $nTo)))
      (local.set $n1 (select (local.get $nTo) (i32.add (local.get $n0) (i32.const 32)) (i32.lt_u (local.get $nTo) (i32.add (local.get $n0) (i32.const 32)))))
      (local.set $m (i32.const 0))
      (block $rows_done (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $m) (local.get $M)))
        (local.set $rows (i32.sub (local.get $M) (local.get $m)))
        (if (i32.ge_u (local.get $rows) (i32.const 2))
          (then
            (local.set $r1 (i32.add (local.get $m) (i32.const 1)))
            (local.set $r2 (select (i32.add (local.get $m) (i32.const 2)) (local.get $r1) (i32.ge_u (local.get $rows) (i32.const 3))))
            (local.set $r3 (select (i32.add (local.get $m) (i32.const 3)) (local.get $r2) (i32.ge_u (local.get $rows) (i32.const 4))))
            (local.set $n (local.get $n0))
            (block $cols_done (loop $cols
              (br_if $cols_done (i32.ge_u (local.get $n) (local.get $n1)))
              (local.set $wp (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $wstride))))
              (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $m) (local.get $xstride))))
              (local.set $x1 (i32.add (local.get $x) (i32.mul (local.get $r1) (local.get $xstride))))
              (local.set $x2 (i32.add (local.get $x) (i32.mul (local.get $r2) (local.get $xstride))))
              (local.set $x3 (i32.add (local.get $x) (i32.mul (local.get $r3) (local.get $xstride))))
              (local.set $a0 (v128.const f32x4 0 0 0 0))
              (local.set $a1 (v128.const f32x4 0 0 0 0))
              (local.set $a2 (v128.const f32x4 0 0 0 0))
              (local.set $a3 (v128.const f32x4 0 0 0 0))
              (local.set $b0 (v128.const f32x4 0 0 0 0))
              (local.set $b1 (v128.const f32x4 0 0 0 0))
              (local.set $b2 (v128.const f32x4 0 0 0 0))
              (local.set $b3 (v128.const f32x4 0 0 0 0))
              (local.set $k (i32.const 0))
              (block $dot_done (loop $dot
                (br_if $dot_done (i32.ge_u (local.get $k) (local.get $wstride)))
                (local.set $h (v128.load (i32.add (local.get $wp) (local.get $k))))
                (local.set $lo (v128.and (i32x4.shr_s (i32x4.shl (local.get $h) (i32.const 16)) (i32.const 3))
                  (v128.const i32x4 0x8FFFE000 0x8FFFE000 0x8FFFE000 0x8FFFE000)))
                (local.set $hi (v128.and (i32x4.shr_s (local.get $h) (i32.const 3))
                  (v128.const i32x4 0x8FFFE000 0x8FFFE000 0x8FFFE000 0x8FFFE000)))
;;plain{
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $lo) (v128.load (local.get $x0)))))
                (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $hi) (v128.load offset=16 (local.get $x0)))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $lo) (v128.load (local.get $x1)))))
                (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $hi) (v128.load offset=16 (local.get $x1)))))
                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $lo) (v128.load (local.get $x2)))))
                (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $hi) (v128.load offset=16 (local.get $x2)))))
                (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $lo) (v128.load (local.get $x3)))))
                (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $hi) (v128.load offset=16 (local.get $x3)))))
;;}plain
;;relaxed: (local.set $a0 (f32x4.relaxed_madd (local.get $lo) (v128.load (local.get $x0)) (local.get $a0)))
;;relaxed: (local.set $b0 (f32x4.relaxed_madd (local.get $hi) (v128.load offset=16 (local.get $x0)) (local.get $b0)))
;;relaxed: (local.set $a1 (f32x4.relaxed_madd (local.get $lo) (v128.load (local.get $x1)) (local.get $a1)))
;;relaxed: (local.set $b1 (f32x4.relaxed_madd (local.get $hi) (v128.load offset=16 (local.get $x1)) (local.get $b1)))
;;relaxed: (local.set $a2 (f32x4.relaxed_madd (local.get $lo) (v128.load (local.get $x2)) (local.get $a2)))
;;relaxed: (local.set $b2 (f32x4.relaxed_madd (local.get $hi) (v128.load offset=16 (local.get $x2)) (local.get $b2)))
;;relaxed: (local.set $a3 (f32x4.relaxed_madd (local.get $lo) (v128.load (local.get $x3)) (local.get $a3)))
;;relaxed: (local.set $b3 (f32x4.relaxed_madd (local.get $hi) (v128.load offset=16 (local.get $x3)) (local.get $b3)))
                (local.set $x0 (i32.add (local.get $x0) (i32.const 32)))
                (local.set $x1 (i32.add (local.get $x1) (i32.const 32)))
                (local.set $x2 (i32.add (local.get $x2) (i32.const 32)))
                (local.set $x3 (i32.add (local.get $x3) (i32.const 32)))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br $dot)))
              (call $f32_store (f32x4.add (local.get $a0) (local.get $b0)) (local.get $m) (local.get $n) (local.get $bias) (local.get $N) (local.get $out))
              (call $f32_store (f32x4.add (local.get $a1) (local.get $b1)) (local.get $r1) (local.get $n) (local.get $bias) (local.get $N) (local.get $out))
              (call $f32_store (f32x4.add (local.get $a2) (local.get $b2)) (local.get $r2) (local.get $n) (local.get $bias) (local.get $N) (local.get $out))
              (call $f32_store (f32x4.add (local.get $a3) (local.get $b3)) (local.get $r3) (local.get $n) (local.get $bias) (local.get $N) (local.get $out))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br $cols)))
            (local.set $m (i32.add (local.get $m) (select (i32.const 4) (local.get $rows) (i32.ge_u (local.get $rows) (i32.const 4))))))
          (else
            ;; one row, four output channels at a time: four independent sums (a single one waits on
            ;; its own previous add every step) that share each load of the row
            (local.set $n (local.get $n0))
            (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $m) (local.get $xstride))))
            (block $cols4_done (loop $cols4
              (br_if $cols4_done (i32.gt_u (i32.add (local.get $n) (i32.const 4)) (local.get $n1)))
              (local.set $wp (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $wstride))))
              (local.set $w1 (local.get $wstride))
              (local.set $w2 (i32.shl (local.get $wstride) (i32.const 1)))
              (local.set $w3 (i32.mul (local.get $wstride) (i32.const 3)))
              (local.set $x1 (local.get $x0))
              (local.set $a0 (v128.const f32x4 0 0 0 0))
              (local.set $a1 (v128.const f32x4 0 0 0 0))
              (local.set $a2 (v128.const f32x4 0 0 0 0))
              (local.set $a3 (v128.const f32x4 0 0 0 0))
              (local.set $k (i32.const 0))
              (block $dot4_done (loop $dot4
                (br_if $dot4_done (i32.ge_u (local.get $k) (local.get $wstride)))
                (local.set $xl (v128.load (local.get $x1)))
                (local.set $xh (v128.load offset=16 (local.get $x1)))
                (local.set $h (v128.load (i32.add (local.get $wp) (local.get $k))))
                (local.set $lo (v128.and (i32x4.shr_s (i32x4.shl (local.get $h) (i32.const 16)) (i32.const 3))
                  (v128.const i32x4 0x8FFFE000 0x8FFFE000 0x8FFFE000 0x8FFFE000)))
                (local.set $hi (v128.and (i32x4.shr_s (local.get $h) (i32.const 3))
                  (v128.const i32x4 0x8FFFE000 0x8FFFE000 0x8FFFE000 0x8FFFE000)))
;;plain{
                (local.set $a0 (f32x4.add (f32x4.add (local.get $a0) (f32x4.mul (local.get $lo) (local.get $xl))) (f32x4.mul (local.get $hi) (local.get $xh))))
;;}plain
;;relaxed: (local.set $a0 (f32x4.relaxed_madd (local.get $hi) (local.get $xh) (f32x4.relaxed_madd (local.get $lo) (local.get $xl) (local.get $a0))))
                (local.set $h (v128.load (i32.add (i32.add (local.get $wp) (local.get $w1)) (local.get $k))))
                (local.set $lo (v128.and (i32x4.shr_s (i32x4.shl (local.get $h) (i32.const 16)) (i32.const 3))
                  (v128.const i32x4 0x8FFFE000 0x8FFFE000 0x8FFFE000 0x8FFFE000)))
                (local.set $hi (v128.and (i32x4.shr_s (local.get $h) (i32.const 3))
                  (v128.const i32x4 0x8FFFE000 0x8FFFE000 0x8FFFE000 0x8FFFE000)))
;;plain{
                (local.set $a1 (f32x4.add (f32x4.add (local.get $a1) (f32x4.mul (local.get $lo) (local.get $xl))) (f32x4.mul (local.get $hi) (local.get $xh))))
;;}plain
;;relaxed: (local.set $a1 (f32x4.relaxed_madd (local.get $hi) (local.get $xh) (f32x4.relaxed_madd (local.get $lo) (local.get $xl) (local.get $a1))))
                (local.set $h (v128.load (i32.add (i32.add (local.get $wp) (local.get $w2)) (local.get $k))))
                (local.set $lo (v128.and (i32x4.shr_s (i32x4.shl (local.get $h) (i32.const 16)) (i32.const 3))
                  (v128.const i32x4 0x8FFFE000 0x8FFFE000 0x8FFFE000 0x8FFFE000)))
                (local.set $hi (v128.and (i32x4.shr_s (local.get $h) (i32.const 3))
                  (v128.const i32x4 0x8FFFE000 0x8FFFE000 0x8FFFE000 0x8FFFE000)))
;;plain{
                (local.set $a2 (f32x4.add (f32x4.add (local.get $a2) (f32x4.mul (local.get $lo) (local.get $xl))) (f32x4.mul (local.get $hi) (local.get $xh))))
;;}plain
;;relaxed: (local.set $a2 (f32x4.relaxed_madd (local.get $hi) (local.get $xh) (f32x4.relaxed_madd (local.get $lo) (local.get $xl) (local.get $a2))))
                (local.set $h (v128.load (i32.add (i32.add (local.get $wp) (local.get $w3)) (local.get $k))))
                (local.set $lo (v128.and (i32x4.shr_s (i32x4.shl (local.get $h) (i32.const 16)) (i32.const 3))
                  (v128.const i32x4 0x8FFFE000 0x8FFFE000 0x8FFFE000 0x8FFFE000)))
                (local.set $hi (v128.and (i32x4.shr_s (local.get $h) (i32.const 3))
                  (v128.const i32x4 0x8FFFE000 0x8FFFE000 0x8FFFE000 0x8FFFE000)))
;;plain{
                (local.set $a3 (f32x4.add (f32x4.add (local.get $a3) (f32x4.mul (local.get $lo) (local.get $xl))) (f32x4.mul (local.get $hi) (local.get $xh))))
;;}plain
;;relaxed: (local.set $a3 (f32x4.relaxed_madd (local.get $hi) (local.get $xh) (f32x4.relaxed_madd (local.get $lo) (local.get $xl) (local.get $a3))))
                (local.set $x1 (i32.add (local.get $x1) (i32.const 32)))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br $dot4)))
              (call $f32_store (local.get $a0) (local.get $m) (local.get $n) (local.get $bias) (local.get $N) (local.get $out))
              (call $f32_store (local.get $a1) (local.get $m) (i32.add (local.get $n) (i32.const 1)) (local.get $bias) (local.get $N) (local.get $out))
              (call $f32_store (local.get $a2) (local.get $m) (i32.add (local.get $n) (i32.const 2)) (local.get $bias) (local.get $N) (local.get $out))
              (call $f32_store (local.get $a3) (local.get $m) (i32.add (local.get $n) (i32.const 3)) (local.get $bias) (local.get $N) (local.get $out))
              (local.set $n (i32.add (local.get $n) (i32.const 4)))
              (br $cols4)))
            ;; the last one to three channels of the block, one at a time
            (block $cols1_done (loop $cols1
              (br_if $cols1_done (i32.ge_u (local.get $n) (local.get $n1)))
              (local.set $wp (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $wstride))))
              (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $m) (local.get $xstride))))
              (local.set $a0 (v128.const f32x4 0 0 0 0))
              (local.set $k (i32.const 0))
              (block $dot1_done (loop $dot1
                (br_if $dot1_done (i32.ge_u (local.get $k) (local.get $wstride)))
                (local.set $h (v128.load (i32.add (local.get $wp) (local.get $k))))
                (local.set $lo (v128.and (i32x4.shr_s (i32x4.shl (local.get $h) (i32.const 16)) (i32.const 3))
                  (v128.const i32x4 0x8FFFE000 0x8FFFE000 0x8FFFE000 0x8FFFE000)))
                (local.set $hi (v128.and (i32x4.shr_s (local.get $h) (i32.const 3))
                  (v128.const i32x4 0x8FFFE000 0x8FFFE000 0x8FFFE000 0x8FFFE000)))
;;plain{
                (local.set $a0 (f32x4.add (f32x4.add (local.get $a0) (f32x4.mul (local.get $lo) (v128.load (local.get $x0)))) (f32x4.mul (local.get $hi) (v128.load offset=16 (local.get $x0)))))
;;}plain
;;relaxed: (local.set $a0 (f32x4.relaxed_madd (local.get $hi) (v128.load offset=16 (local.get $x0)) (f32x4.relaxed_madd (local.get $lo) (v128.load (local.get $x0)) (local.get $a0))))
                (local.set $x0 (i32.add (local.get $x0) (i32.const 32)))
                (local.set $k (i32.add (local.get $k) (i32.const 16)))
                (br $dot1)))
              (call $f32_store (local.get $a0) (local.get $m) (local.get $n) (local.get $bias) (local.get $N) (local.get $out))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br $cols1)))
            (local.set $m (i32.add (local.get $m) (i32.const 1)))))
        (br $rows)))
      (local.set $n0 (local.get $n1))
      (br $blocks))))
)
