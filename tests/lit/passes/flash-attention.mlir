// kiln-flash-attention: kiln.attention becomes kiln.flash_attention with
// the same operands and attributes.
// RUN: kiln-opt %s --pass-pipeline='builtin.module(func.func(kiln-flash-attention))' | FileCheck %s

// CHECK-LABEL: func.func @attend
func.func @attend(%q: tensor<?x256xf32>, %k: tensor<?x64xf32>, %pos: index) -> tensor<?x256xf32> {
  // CHECK: kiln.flash_attention %arg0, %arg1, %arg1, %arg2 {head_dim = 32 : i64, layer = 3 : i64, num_heads = 8 : i64, num_kv_heads = 2 : i64, scale = 0.176776692 : f32}
  // CHECK-NOT: kiln.attention
  %a = kiln.attention %q, %k, %k, %pos {layer = 3, num_heads = 8, num_kv_heads = 2, head_dim = 32, scale = 0.17677669 : f32} : tensor<?x256xf32>, tensor<?x64xf32>
  return %a : tensor<?x256xf32>
}
