// kiln-fuse-norm: a norm whose every user is a matmul input moves into
// those matmuls' prologues.
// RUN: kiln-opt %s --pass-pipeline='builtin.module(func.func(kiln-fuse-norm))' | FileCheck %s

// CHECK-LABEL: func.func @attn_input
func.func @attn_input(%x: tensor<?x256xf32>) -> (tensor<?x256xf32>, tensor<?x64xf32>) {
  %n = kiln.weight "attn_norm" : !kiln.weight<[256], f32>
  %wq = kiln.weight "q" : !kiln.weight<[256, 256], q8_0>
  %wk = kiln.weight "k" : !kiln.weight<[64, 256], q8_0>
  // CHECK-NOT: kiln.rms_norm
  // CHECK: kiln.fused_matmul %arg0, [%{{.*}}] norm(%{{.*}}) {norm_epsilon = 9.99999974E-6 : f32}
  // CHECK: kiln.fused_matmul %arg0, [%{{.*}}] norm(%{{.*}}) {norm_epsilon = 9.99999974E-6 : f32}
  %h = kiln.rms_norm %x, %n {epsilon = 1.0e-5 : f32} : tensor<?x256xf32>, !kiln.weight<[256], f32>
  %q = kiln.matmul %h, %wq : (tensor<?x256xf32>, !kiln.weight<[256, 256], q8_0>) -> tensor<?x256xf32>
  %k = kiln.matmul %h, %wk : (tensor<?x256xf32>, !kiln.weight<[64, 256], q8_0>) -> tensor<?x64xf32>
  return %q, %k : tensor<?x256xf32>, tensor<?x64xf32>
}

// CHECK-LABEL: func.func @layer_norm
func.func @layer_norm(%x: tensor<?x256xf32>) -> tensor<?x768xf32> {
  %n = kiln.weight "ln" : !kiln.weight<[256], f32>
  %b = kiln.weight "ln.bias" : !kiln.weight<[256], f32>
  %w = kiln.weight "qkv" : !kiln.weight<[768, 256], f16>
  // CHECK: kiln.fused_matmul %arg0, [%{{.*}}] norm(%{{.*}}, %{{.*}})
  %h = kiln.layer_norm %x, %n, %b {epsilon = 1.0e-5 : f32} : tensor<?x256xf32>, !kiln.weight<[256], f32>
  %y = kiln.matmul %h, %w : (tensor<?x256xf32>, !kiln.weight<[768, 256], f16>) -> tensor<?x768xf32>
  return %y : tensor<?x768xf32>
}

// The normalized row is also read by something that is not a matmul
// (here: the last_row of the output norm in prefill): nothing moves.
// CHECK-LABEL: func.func @other_user
func.func @other_user(%x: tensor<?x256xf32>) -> (tensor<?x256xf32>, tensor<1x256xf32>) {
  %n = kiln.weight "attn_norm" : !kiln.weight<[256], f32>
  %wq = kiln.weight "q" : !kiln.weight<[256, 256], q8_0>
  // CHECK: kiln.rms_norm
  // CHECK: kiln.matmul
  %h = kiln.rms_norm %x, %n {epsilon = 1.0e-5 : f32} : tensor<?x256xf32>, !kiln.weight<[256], f32>
  %q = kiln.matmul %h, %wq : (tensor<?x256xf32>, !kiln.weight<[256, 256], q8_0>) -> tensor<?x256xf32>
  %l = kiln.last_row %h : tensor<?x256xf32> -> tensor<1x256xf32>
  return %q, %l : tensor<?x256xf32>, tensor<1x256xf32>
}
