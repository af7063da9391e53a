// kiln-fuse-swiglu: mul(silu(x Wg), x Wu) becomes one fused matmul with the
// swiglu epilogue; other products stay as they are.
// RUN: kiln-opt %s --pass-pipeline='builtin.module(func.func(kiln-fuse-swiglu))' | FileCheck %s

// CHECK-LABEL: func.func @ffn
func.func @ffn(%h: tensor<?x256xf32>) -> tensor<?x768xf32> {
  %wg = kiln.weight "blk.0.ffn_gate.weight" : !kiln.weight<[768, 256], q4_K>
  %wu = kiln.weight "blk.0.ffn_up.weight" : !kiln.weight<[768, 256], q4_K>
  // CHECK: %[[R:.*]] = kiln.fused_matmul %{{.*}}, [%{{.*}}, %{{.*}}] {epilogue = #kiln<epilogue swiglu>} : (tensor<?x256xf32>, !kiln.weight<[768, 256], q4_K>, !kiln.weight<[768, 256], q4_K>) -> tensor<?x768xf32>
  // CHECK-NOT: kiln.silu
  // CHECK-NOT: kiln.mul
  // CHECK: return %[[R]]
  %g = kiln.matmul %h, %wg : (tensor<?x256xf32>, !kiln.weight<[768, 256], q4_K>) -> tensor<?x768xf32>
  %s = kiln.silu %g : tensor<?x768xf32>
  %u = kiln.matmul %h, %wu : (tensor<?x256xf32>, !kiln.weight<[768, 256], q4_K>) -> tensor<?x768xf32>
  %m = kiln.mul %s, %u : tensor<?x768xf32>
  return %m : tensor<?x768xf32>
}

// The gate is read elsewhere too: nothing fuses.
// CHECK-LABEL: func.func @gate_used_twice
func.func @gate_used_twice(%h: tensor<?x256xf32>) -> (tensor<?x768xf32>, tensor<?x768xf32>) {
  %wg = kiln.weight "g" : !kiln.weight<[768, 256], f16>
  %wu = kiln.weight "u" : !kiln.weight<[768, 256], f16>
  // CHECK-NOT: kiln.fused_matmul
  // CHECK: kiln.silu
  // CHECK: kiln.mul
  %g = kiln.matmul %h, %wg : (tensor<?x256xf32>, !kiln.weight<[768, 256], f16>) -> tensor<?x768xf32>
  %s = kiln.silu %g : tensor<?x768xf32>
  %u = kiln.matmul %h, %wu : (tensor<?x256xf32>, !kiln.weight<[768, 256], f16>) -> tensor<?x768xf32>
  %m = kiln.mul %s, %u : tensor<?x768xf32>
  return %m, %g : tensor<?x768xf32>, tensor<?x768xf32>
}
