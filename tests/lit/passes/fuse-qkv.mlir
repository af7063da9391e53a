// kiln-fuse-qkv: matmuls of one input whose weights need the same input
// conversion become one fused matmul with a result per weight; the weight
// ops move up to it.
// RUN: kiln-opt %s --pass-pipeline='builtin.module(func.func(kiln-fuse-qkv))' | FileCheck %s

// CHECK-LABEL: func.func @qkv
func.func @qkv(%h: tensor<?x256xf32>) -> (tensor<?x256xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  // CHECK: %[[WQ:.*]] = kiln.weight "q"
  // CHECK: %[[WK:.*]] = kiln.weight "k"
  // CHECK: %[[WV:.*]] = kiln.weight "v"
  // CHECK: %[[R:.*]]:3 = kiln.fused_matmul %{{.*}}, [%[[WQ]], %[[WK]], %[[WV]]] : (tensor<?x256xf32>, !kiln.weight<[256, 256], q4_K>, !kiln.weight<[64, 256], q4_K>, !kiln.weight<[64, 256], q6_K>) -> (tensor<?x256xf32>, tensor<?x64xf32>, tensor<?x64xf32>)
  // CHECK: return %[[R]]#0, %[[R]]#1, %[[R]]#2
  %wq = kiln.weight "q" : !kiln.weight<[256, 256], q4_K>
  %q = kiln.matmul %h, %wq : (tensor<?x256xf32>, !kiln.weight<[256, 256], q4_K>) -> tensor<?x256xf32>
  %wk = kiln.weight "k" : !kiln.weight<[64, 256], q4_K>
  %k = kiln.matmul %h, %wk : (tensor<?x256xf32>, !kiln.weight<[64, 256], q4_K>) -> tensor<?x64xf32>
  %wv = kiln.weight "v" : !kiln.weight<[64, 256], q6_K>
  %v = kiln.matmul %h, %wv : (tensor<?x256xf32>, !kiln.weight<[64, 256], q6_K>) -> tensor<?x64xf32>
  return %q, %k, %v : tensor<?x256xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}

// q8_0 and q4_K weights read differently quantized inputs: two matmuls.
// CHECK-LABEL: func.func @mixed_conversions
func.func @mixed_conversions(%h: tensor<?x256xf32>) -> (tensor<?x256xf32>, tensor<?x64xf32>) {
  // CHECK-NOT: kiln.fused_matmul
  %wq = kiln.weight "q" : !kiln.weight<[256, 256], q8_0>
  %q = kiln.matmul %h, %wq : (tensor<?x256xf32>, !kiln.weight<[256, 256], q8_0>) -> tensor<?x256xf32>
  %wk = kiln.weight "k" : !kiln.weight<[64, 256], q4_K>
  %k = kiln.matmul %h, %wk : (tensor<?x256xf32>, !kiln.weight<[64, 256], q4_K>) -> tensor<?x64xf32>
  return %q, %k : tensor<?x256xf32>, tensor<?x64xf32>
}
