;; The work of a decode step between its matmuls, in WebAssembly SIMD (f32x4): attention of one
;; query over the cached keys and values, layer norm, GELU and the residual add.
;;
;; Keys and values are stored head-major: head h's D numbers for position s are at
;; base + h·headStride + s·D·4, so each head reads one contiguous run of S·D floats. The query
;; and the output are [H·D], heads side by side, as c_attn and c_proj use them. Pointers are byte
;; offsets into this module's memory; D is a multiple of 4. A step is scores, softmax, weighted.
;;
;; Compiled by scripts/build-wasm.mjs into decodeWasm.ts; a test checks that the two agree.
(module
  (memory (export "memory") 1)

  ;; out[h·S + s] = scale · (q[h·D .. h·D+D] · key(h, s))   for h < H, s < S
  (func (export "scores")
    (param $q i32) (param $k i32) (param $out i32) (param $S i32) (param $H i32) (param $D i32) (param $headStride i32) (param $scale f32)
    (local $rowBytes i32) (local $h i32) (local $s i32) (local $d i32)
    (local $qh i32) (local $kp i32) (local $op i32) (local $acc v128)
    (local.set $rowBytes (i32.shl (local.get $D) (i32.const 2)))
    (local.set $op (local.get $out))
    (block $heads_done (loop $heads
      (br_if $heads_done (i32.ge_u (local.get $h) (local.get $H)))
      (local.set $qh (i32.add (local.get $q) (i32.mul (local.get $h) (local.get $rowBytes))))
      (local.set $kp (i32.add (local.get $k) (i32.mul (local.get $h) (local.get $headStride))))
      (local.set $s (i32.const 0))
      (block $positions_done (loop $positions
        (br_if $positions_done (i32.ge_u (local.get $s) (local.get $S)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $d (i32.const 0))
        (block $dims_done (loop $dims
          (br_if $dims_done (i32.ge_u (local.get $d) (local.get $rowBytes)))
          (local.set $acc
            (f32x4.add (local.get $acc)
              (f32x4.mul (v128.load (i32.add (local.get $qh) (local.get $d)))
                         (v128.load (i32.add (local.get $kp) (local.get $d))))))
          (local.set $d (i32.add (local.get $d) (i32.const 16)))
          (br $dims)))
        (f32.store (local.get $op)
          (f32.mul (local.get $scale)
            (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
              (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc))))))
        (local.set $op (i32.add (local.get $op) (i32.const 4)))
        (local.set $kp (i32.add (local.get $kp) (local.get $rowBytes)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $positions)))
      (local.set $h (i32.add (local.get $h) (i32.const 1)))
      (br $heads))))

  ;; out[h·D + d] = Σ_s w[h·S + s] · value(h, s)[d]   for h < H, d < D
  (func (export "weighted")
    (param $w i32) (param $v i32) (param $out i32) (param $S i32) (param $H i32) (param $D i32) (param $headStride i32)
    (local $rowBytes i32) (local $h i32) (local $s i32) (local $d i32)
    (local $oh i32) (local $vp i32) (local $wp i32) (local $ws v128)
    (local.set $rowBytes (i32.shl (local.get $D) (i32.const 2)))
    (local.set $wp (local.get $w))
    (block $heads_done (loop $heads
      (br_if $heads_done (i32.ge_u (local.get $h) (local.get $H)))
      (local.set $oh (i32.add (local.get $out) (i32.mul (local.get $h) (local.get $rowBytes))))
      (local.set $vp (i32.add (local.get $v) (i32.mul (local.get $h) (local.get $headStride))))
      (local.set $d (i32.const 0))
      (block $zero_done (loop $zero
        (br_if $zero_done (i32.ge_u (local.get $d) (local.get $rowBytes)))
        (v128.store (i32.add (local.get $oh) (local.get $d)) (v128.const f32x4 0 0 0 0))
        (local.set $d (i32.add (local.get $d) (i32.const 16)))
        (br $zero)))
      (local.set $s (i32.const 0))
      (block $positions_done (loop $positions
        (br_if $positions_done (i32.ge_u (local.get $s) (local.get $S)))
        (local.set $ws (f32x4.splat (f32.load (local.get $wp))))
        (local.set $d (i32.const 0))
        (block $dims_done (loop $dims
          (br_if $dims_done (i32.ge_u (local.get $d) (local.get $rowBytes)))
          (v128.store (i32.add (local.get $oh) (local.get $d))
            (f32x4.add (v128.load (i32.add (local.get $oh) (local.get $d)))
              (f32x4.mul (local.get $ws) (v128.load (i32.add (local.get $vp) (local.get $d))))))
          (local.set $d (i32.add (local.get $d) (i32.const 16)))
          (br $dims)))
        (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
        (local.set $vp (i32.add (local.get $vp) (local.get $rowBytes)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $positions)))
      (local.set $h (i32.add (local.get $h) (i32.const 1)))
      (br $heads))))

  ;; e^x for four lanes (Cephes' expf: x = n·ln2 + r, |r| <= ln2/2, e^r by a degree-7 polynomial,
  ;; 2^n from the exponent bits; about 1 ulp). Below -87 it is 0; above 88 it is e^88.
  (func $exp4 (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128) (local $tiny v128)
    (local.set $tiny (f32x4.lt (local.get $x) (v128.const f32x4 -87 -87 -87 -87)))
    (local.set $x (f32x4.min (f32x4.max (local.get $x) (v128.const f32x4 -87 -87 -87 -87)) (v128.const f32x4 88 88 88 88)))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))))
    (local.set $r (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
    (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p (f32x4.add (f32x4.add (f32x4.mul (f32x4.mul (local.get $p) (local.get $r)) (local.get $r)) (local.get $r))
                             (v128.const f32x4 1 1 1 1)))
    ;; p · 2^n, 2^n built as the float with exponent bits n + 127
    (v128.andnot
      (f32x4.mul (local.get $p)
        (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23)))
      (local.get $tiny)))

  ;; Softmax of each of the H rows of S numbers at p, in place.
  (func (export "softmax") (param $p i32) (param $S i32) (param $H i32)
    (local $row i32) (local $end i32) (local $end4 i32) (local $q i32) (local $h i32)
    (local $vmax v128) (local $vsum v128) (local $m f32) (local $sum f32) (local $e v128)
    (local.set $row (local.get $p))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u (local.get $h) (local.get $H)))
      (local.set $end (i32.add (local.get $row) (i32.shl (local.get $S) (i32.const 2))))
      (local.set $end4 (i32.add (local.get $row) (i32.shl (i32.and (local.get $S) (i32.const -4)) (i32.const 2))))
      ;; the row's maximum
      (local.set $vmax (v128.const f32x4 -inf -inf -inf -inf))
      (local.set $q (local.get $row))
      (block $b1 (loop $l1
        (br_if $b1 (i32.ge_u (local.get $q) (local.get $end4)))
        (local.set $vmax (f32x4.max (local.get $vmax) (v128.load (local.get $q))))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (br $l1)))
      (local.set $m
        (f32.max (f32.max (f32x4.extract_lane 0 (local.get $vmax)) (f32x4.extract_lane 1 (local.get $vmax)))
                 (f32.max (f32x4.extract_lane 2 (local.get $vmax)) (f32x4.extract_lane 3 (local.get $vmax)))))
      (block $b2 (loop $l2
        (br_if $b2 (i32.ge_u (local.get $q) (local.get $end)))
        (local.set $m (f32.max (local.get $m) (f32.load (local.get $q))))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (br $l2)))
      ;; e^(x - max) in place, and their sum
      (local.set $vmax (f32x4.splat (local.get $m)))
      (local.set $vsum (v128.const f32x4 0 0 0 0))
      (local.set $q (local.get $row))
      (block $b3 (loop $l3
        (br_if $b3 (i32.ge_u (local.get $q) (local.get $end4)))
        (local.set $e (call $exp4 (f32x4.sub (v128.load (local.get $q)) (local.get $vmax))))
        (v128.store (local.get $q) (local.get $e))
        (local.set $vsum (f32x4.add (local.get $vsum) (local.get $e)))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (br $l3)))
      (local.set $sum
        (f32.add (f32.add (f32x4.extract_lane 0 (local.get $vsum)) (f32x4.extract_lane 1 (local.get $vsum)))
                 (f32.add (f32x4.extract_lane 2 (local.get $vsum)) (f32x4.extract_lane 3 (local.get $vsum)))))
      (block $b4 (loop $l4
        (br_if $b4 (i32.ge_u (local.get $q) (local.get $end)))
        (local.set $e (call $exp4 (f32x4.splat (f32.sub (f32.load (local.get $q)) (local.get $m)))))
        (f32.store (local.get $q) (f32x4.extract_lane 0 (local.get $e)))
        (local.set $sum (f32.add (local.get $sum) (f32x4.extract_lane 0 (local.get $e))))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (br $l4)))
      ;; divide by the sum
      (local.set $vsum (f32x4.splat (f32.div (f32.const 1) (local.get $sum))))
      (local.set $q (local.get $row))
      (block $b5 (loop $l5
        (br_if $b5 (i32.ge_u (local.get $q) (local.get $end4)))
        (v128.store (local.get $q) (f32x4.mul (v128.load (local.get $q)) (local.get $vsum)))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (br $l5)))
      (block $b6 (loop $l6
        (br_if $b6 (i32.ge_u (local.get $q) (local.get $end)))
        (f32.store (local.get $q) (f32.mul (f32.load (local.get $q)) (f32x4.extract_lane 0 (local.get $vsum))))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (br $l6)))
      (local.set $row (local.get $end))
      (local.set $h (i32.add (local.get $h) (i32.const 1)))
      (br $rows))))

  ;; out = (x - mean) / sqrt(variance + eps) · gamma + beta over one row of C numbers (C a multiple of 4).
  (func (export "layer_norm")
    (param $x i32) (param $gamma i32) (param $beta i32) (param $out i32) (param $C i32) (param $eps f32)
    (local $end i32) (local $i i32) (local $acc v128) (local $mean v128) (local $c v128) (local $scale v128) (local $n f32)
    (local.set $end (i32.shl (local.get $C) (i32.const 2)))
    (local.set $n (f32.convert_i32_u (local.get $C)))
    (local.set $acc (v128.const f32x4 0 0 0 0))
    (block $b1 (loop $l1
      (br_if $b1 (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $acc (f32x4.add (local.get $acc) (v128.load (i32.add (local.get $x) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $l1)))
    (local.set $mean (f32x4.splat (f32.div
      (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
               (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc))))
      (local.get $n))))
    (local.set $acc (v128.const f32x4 0 0 0 0))
    (local.set $i (i32.const 0))
    (block $b2 (loop $l2
      (br_if $b2 (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $c (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $i))) (local.get $mean)))
      (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $c) (local.get $c))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $l2)))
    (local.set $scale (f32x4.splat (f32.div (f32.const 1) (f32.sqrt (f32.add (local.get $eps) (f32.div
      (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
               (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc))))
      (local.get $n)))))))
    (local.set $i (i32.const 0))
    (block $b3 (loop $l3
      (br_if $b3 (i32.ge_u (local.get $i) (local.get $end)))
      (v128.store (i32.add (local.get $out) (local.get $i))
        (f32x4.add
          (f32x4.mul
            (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $i))) (local.get $mean)) (local.get $scale))
            (v128.load (i32.add (local.get $gamma) (local.get $i))))
          (v128.load (i32.add (local.get $beta) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $l3))))

  ;; gelu_new in place over n numbers (n a multiple of 4): x · sigmoid(2·√(2/π)·(x + 0.044715·x³)),
  ;; which is GPT-2's ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
  (func (export "gelu_new") (param $p i32) (param $n i32)
    (local $end i32) (local $q i32) (local $x v128) (local $u v128)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $q (local.get $p))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $q) (local.get $end)))
      (local.set $x (v128.load (local.get $q)))
      ;; u = 2·√(2/π)·x + 2·√(2/π)·0.044715·x³
      (local.set $u (f32x4.mul (local.get $x)
        (f32x4.add (v128.const f32x4 1.5957691216057308 1.5957691216057308 1.5957691216057308 1.5957691216057308)
          (f32x4.mul (f32x4.mul (local.get $x) (local.get $x))
            (v128.const f32x4 0.07135481627260025 0.07135481627260025 0.07135481627260025 0.07135481627260025)))))
      (v128.store (local.get $q)
        (f32x4.div (local.get $x)
          (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp4 (f32x4.neg (local.get $u))))))
      (local.set $q (i32.add (local.get $q) (i32.const 16)))
      (br $next))))

  ;; a += b over n numbers (n a multiple of 4).
  (func (export "add") (param $a i32) (param $b i32) (param $n i32)
    (local $i i32) (local $end i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (v128.store (i32.add (local.get $a) (local.get $i))
        (f32x4.add (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $next))))
)
