// kiln-fuse-rope: rope (normal pairing) of a matmul result moves into the
// matmul's epilogue; NeoX pairing stays a separate op.
// RUN: kiln-opt %s --pass-pipeline='builtin.module(func.func(kiln-fuse-rope))' | FileCheck %s

// CHECK-LABEL: func.func @q_and_k
func.func @q_and_k(%h: tensor<?x256xf32>, %pos: index) -> (tensor<?x256xf32>, tensor<?x64xf32>) {
  %wq = kiln.weight "q" : !kiln.weight<[256, 256], q8_0>
  %wk = kiln.weight "k" : !kiln.weight<[64, 256], q8_0>
  // CHECK: kiln.fused_matmul %{{.*}}, [%{{.*}}] position(%{{.*}}) {rope_dims = 32 : i64, rope_freq_base = 1.000000e+04 : f32, rope_freq_scale = 1.000000e+00 : f32, rope_head_dim = 32 : i64, rope_results = array<i1: true>}
  // CHECK: kiln.fused_matmul %{{.*}}, [%{{.*}}] position(%{{.*}}) {{.*}}rope_results = array<i1: true>
  // CHECK-NOT: kiln.rope
  %q = kiln.matmul %h, %wq : (tensor<?x256xf32>, !kiln.weight<[256, 256], q8_0>) -> tensor<?x256xf32>
  %qr = kiln.rope %q, %pos {head_dim = 32, rope_dims = 32, mode = #kiln<rope_mode normal>, freq_base = 10000.0 : f32, freq_scale = 1.0 : f32} : tensor<?x256xf32>
  %k = kiln.matmul %h, %wk : (tensor<?x256xf32>, !kiln.weight<[64, 256], q8_0>) -> tensor<?x64xf32>
  %kr = kiln.rope %k, %pos {head_dim = 32, rope_dims = 32, mode = #kiln<rope_mode normal>, freq_base = 10000.0 : f32, freq_scale = 1.0 : f32} : tensor<?x64xf32>
  return %qr, %kr : tensor<?x256xf32>, tensor<?x64xf32>
}

// After kiln-fuse-qkv: one flag per result.
// RUN: kiln-opt %s --pass-pipeline='builtin.module(func.func(kiln-fuse-qkv,kiln-fuse-rope))' | FileCheck %s --check-prefix=QKV
// QKV-LABEL: func.func @q_and_k
// QKV: kiln.fused_matmul {{.*}}rope_results = array<i1: true, true>

// CHECK-LABEL: func.func @neox
func.func @neox(%h: tensor<?x256xf32>, %pos: index) -> tensor<?x256xf32> {
  %wq = kiln.weight "q" : !kiln.weight<[256, 256], q8_0>
  // CHECK: kiln.matmul
  // CHECK: kiln.rope
  %q = kiln.matmul %h, %wq : (tensor<?x256xf32>, !kiln.weight<[256, 256], q8_0>) -> tensor<?x256xf32>
  %qr = kiln.rope %q, %pos {head_dim = 32, rope_dims = 32, mode = #kiln<rope_mode neox>, freq_base = 10000.0 : f32, freq_scale = 1.0 : f32} : tensor<?x256xf32>
  return %qr : tensor<?x256xf32>
}
