// kiln-fuse-residual: x + matmul(...) becomes the matmul's residual epilogue.
// RUN: kiln-opt %s --pass-pipeline='builtin.module(func.func(kiln-fuse-residual))' | FileCheck %s

// CHECK-LABEL: func.func @output_projection
func.func @output_projection(%x: tensor<?x256xf32>, %a: tensor<?x256xf32>) -> tensor<?x256xf32> {
  %wo = kiln.weight "o" : !kiln.weight<[256, 256], q4_0>
  // CHECK: %[[R:.*]] = kiln.fused_matmul %{{.*}}, [%{{.*}}] residual(%arg0)
  // CHECK-NOT: kiln.add
  // CHECK: return %[[R]]
  %o = kiln.matmul %a, %wo : (tensor<?x256xf32>, !kiln.weight<[256, 256], q4_0>) -> tensor<?x256xf32>
  %y = kiln.add %x, %o : tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// The product is also returned: the add stays.
// CHECK-LABEL: func.func @product_used_twice
func.func @product_used_twice(%x: tensor<?x256xf32>, %a: tensor<?x256xf32>) -> (tensor<?x256xf32>, tensor<?x256xf32>) {
  %wo = kiln.weight "o" : !kiln.weight<[256, 256], q4_0>
  // CHECK: kiln.matmul
  // CHECK: kiln.add
  %o = kiln.matmul %a, %wo : (tensor<?x256xf32>, !kiln.weight<[256, 256], q4_0>) -> tensor<?x256xf32>
  %y = kiln.add %x, %o : tensor<?x256xf32>
  return %y, %o : tensor<?x256xf32>, tensor<?x256xf32>
}
