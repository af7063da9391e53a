// kiln-fuse-gelu: GELU of a matmul's product becomes its epilogue.
// RUN: kiln-opt %s --pass-pipeline='builtin.module(func.func(kiln-fuse-gelu))' | FileCheck %s

// CHECK-LABEL: func.func @up
func.func @up(%h: tensor<?x256xf32>) -> tensor<?x1024xf32> {
  %w = kiln.weight "up" : !kiln.weight<[1024, 256], f16>
  %b = kiln.weight "up.bias" : !kiln.weight<[1024], f32>
  // CHECK: kiln.fused_matmul %{{.*}}, [%{{.*}}] bias [%{{.*}}] {epilogue = #kiln<epilogue gelu>}
  // CHECK-NOT: kiln.gelu
  %u = kiln.matmul %h, %w bias %b : (tensor<?x256xf32>, !kiln.weight<[1024, 256], f16>, !kiln.weight<[1024], f32>) -> tensor<?x1024xf32>
  %g = kiln.gelu %u : tensor<?x1024xf32>
  return %g : tensor<?x1024xf32>
}

// GELU of something else stays.
// CHECK-LABEL: func.func @not_a_product
func.func @not_a_product(%h: tensor<?x256xf32>) -> tensor<?x256xf32> {
  // CHECK: kiln.gelu
  %g = kiln.gelu %h : tensor<?x256xf32>
  return %g : tensor<?x256xf32>
}
