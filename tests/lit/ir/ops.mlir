// Every kiln op parses, verifies and prints back; printing is stable.
// RUN: kiln-opt %s | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @block
func.func @block(%tokens: tensor<?xi32>, %pos: index) -> tensor<1x1000xf32> {
  // CHECK: kiln.weight "token_embd.weight" : <[1000, 256], q8_0>
  %table = kiln.weight "token_embd.weight" : !kiln.weight<[1000, 256], q8_0>
  // CHECK: kiln.embedding %{{.*}}[%{{.*}}] : <[1000, 256], q8_0>, tensor<?xi32> -> tensor<?x256xf32>
  %x = kiln.embedding %table[%tokens] : !kiln.weight<[1000, 256], q8_0>, tensor<?xi32> -> tensor<?x256xf32>
  %pe = kiln.weight "position_embd.weight" : !kiln.weight<[256, 256], f32>
  // CHECK: kiln.positions %{{.*}}, %{{.*}} : tensor<?x256xf32> -> tensor<?xi32>
  %ids = kiln.positions %pos, %x : tensor<?x256xf32> -> tensor<?xi32>
  %learned = kiln.embedding %pe[%ids] : !kiln.weight<[256, 256], f32>, tensor<?xi32> -> tensor<?x256xf32>
  // CHECK: kiln.add
  %x1 = kiln.add %x, %learned : tensor<?x256xf32>
  %nw = kiln.weight "blk.0.attn_norm.weight" : !kiln.weight<[256], f32>
  // CHECK: kiln.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32}
  %h = kiln.rms_norm %x1, %nw {epsilon = 1.0e-5 : f32} : tensor<?x256xf32>, !kiln.weight<[256], f32>
  %nb = kiln.weight "blk.0.attn_norm.bias" : !kiln.weight<[256], f32>
  // CHECK: kiln.layer_norm
  %h2 = kiln.layer_norm %h, %nw, %nb {epsilon = 1.0e-5 : f32} : tensor<?x256xf32>, !kiln.weight<[256], f32>
  %wq = kiln.weight "blk.0.attn_q.weight" : !kiln.weight<[256, 256], q4_K>
  %bq = kiln.weight "blk.0.attn_q.bias" : !kiln.weight<[256], f32>
  // CHECK: kiln.matmul %{{.*}}, %{{.*}} bias %{{.*}} : (tensor<?x256xf32>, !kiln.weight<[256, 256], q4_K>, !kiln.weight<[256], f32>) -> tensor<?x256xf32>
  %q = kiln.matmul %h2, %wq bias %bq : (tensor<?x256xf32>, !kiln.weight<[256, 256], q4_K>, !kiln.weight<[256], f32>) -> tensor<?x256xf32>
  %wk = kiln.weight "blk.0.attn_k.weight" : !kiln.weight<[64, 256], q6_K>
  // CHECK: kiln.matmul %{{.*}}, %{{.*}} : (tensor<?x256xf32>, !kiln.weight<[64, 256], q6_K>) -> tensor<?x64xf32>
  %k = kiln.matmul %h2, %wk : (tensor<?x256xf32>, !kiln.weight<[64, 256], q6_K>) -> tensor<?x64xf32>
  // CHECK: kiln.rope {{.*}}mode = #kiln<rope_mode neox>
  %qr = kiln.rope %q, %pos {head_dim = 32, rope_dims = 32, mode = #kiln<rope_mode neox>, freq_base = 10000.0 : f32, freq_scale = 1.0 : f32} : tensor<?x256xf32>
  %kr = kiln.rope %k, %pos {head_dim = 32, rope_dims = 16, mode = #kiln<rope_mode normal>, freq_base = 10000.0 : f32, freq_scale = 0.5 : f32} : tensor<?x64xf32>
  // CHECK: kiln.attention {{.*}}layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 2 : i64
  %a = kiln.attention %qr, %kr, %kr, %pos {layer = 0, num_heads = 8, num_kv_heads = 2, head_dim = 32, scale = 0.17677669 : f32} : tensor<?x256xf32>, tensor<?x64xf32>
  // CHECK: kiln.silu
  %s = kiln.silu %a : tensor<?x256xf32>
  // CHECK: kiln.gelu
  %g = kiln.gelu %s : tensor<?x256xf32>
  // CHECK: kiln.mul
  %m = kiln.mul %s, %g : tensor<?x256xf32>
  // CHECK: kiln.softmax
  %p = kiln.softmax %m : tensor<?x256xf32>
  // CHECK: kiln.slice_columns %{{.*}}[64] : tensor<?x256xf32> -> tensor<?x128xf32>
  %half = kiln.slice_columns %p[64] : tensor<?x256xf32> -> tensor<?x128xf32>
  // CHECK: kiln.last_row %{{.*}} : tensor<?x256xf32> -> tensor<1x256xf32>
  %last = kiln.last_row %p : tensor<?x256xf32> -> tensor<1x256xf32>
  %out = kiln.weight "output.weight" : !kiln.weight<[1000, 256], q8_0>
  %logits = kiln.matmul %last, %out : (tensor<1x256xf32>, !kiln.weight<[1000, 256], q8_0>) -> tensor<1x1000xf32>
  return %logits : tensor<1x1000xf32>
}
