// The verifiers reject inconsistent graphs with a message naming the problem.
// RUN: kiln-opt %s -split-input-file -verify-diagnostics

func.func @matmul_width(%x: tensor<?x128xf32>) {
  %w = kiln.weight "w" : !kiln.weight<[64, 256], q8_0>
  // expected-error @+1 {{input has 128 columns but the weight rows have 256}}
  %y = kiln.matmul %x, %w : (tensor<?x128xf32>, !kiln.weight<[64, 256], q8_0>) -> tensor<?x64xf32>
  return
}

// -----

func.func @matmul_result(%x: tensor<?x256xf32>) {
  %w = kiln.weight "w" : !kiln.weight<[64, 256], q8_0>
  // expected-error @+1 {{result has 32 columns but the weight has 64 rows}}
  %y = kiln.matmul %x, %w : (tensor<?x256xf32>, !kiln.weight<[64, 256], q8_0>) -> tensor<?x32xf32>
  return
}

// -----

func.func @matmul_bias(%x: tensor<?x256xf32>) {
  %w = kiln.weight "w" : !kiln.weight<[64, 256], q8_0>
  %b = kiln.weight "b" : !kiln.weight<[32], f32>
  // expected-error @+1 {{bias must be a vector of 64 elements}}
  %y = kiln.matmul %x, %w bias %b : (tensor<?x256xf32>, !kiln.weight<[64, 256], q8_0>, !kiln.weight<[32], f32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @block_size() {
  // expected-error @+1 {{row length 100 is not a multiple of the q8_0 block size 32}}
  %w = kiln.weight "w" : !kiln.weight<[64, 100], q8_0>
  return
}

// -----

func.func @norm_width(%x: tensor<?x256xf32>) {
  %w = kiln.weight "w" : !kiln.weight<[128], f32>
  // expected-error @+1 {{weight must be a vector of 256 elements}}
  %y = kiln.rms_norm %x, %w {epsilon = 1.0e-5 : f32} : tensor<?x256xf32>, !kiln.weight<[128], f32>
  return
}

// -----

func.func @gqa(%q: tensor<?x256xf32>, %k: tensor<?x96xf32>, %pos: index) {
  // expected-error @+1 {{num_heads must be a positive multiple of num_kv_heads}}
  %a = kiln.attention %q, %k, %k, %pos {layer = 0, num_heads = 8, num_kv_heads = 3, head_dim = 32, scale = 1.0 : f32} : tensor<?x256xf32>, tensor<?x96xf32>
  return
}

// -----

func.func @key_width(%q: tensor<?x256xf32>, %k: tensor<?x128xf32>, %pos: index) {
  // expected-error @+1 {{key width 128 != num_kv_heads * head_dim = 64}}
  %a = kiln.attention %q, %k, %k, %pos {layer = 0, num_heads = 8, num_kv_heads = 2, head_dim = 32, scale = 1.0 : f32} : tensor<?x256xf32>, tensor<?x128xf32>
  return
}

// -----

func.func @rope_dims(%x: tensor<?x256xf32>, %pos: index) {
  // expected-error @+1 {{rope_dims must be even and within the head}}
  %r = kiln.rope %x, %pos {head_dim = 32, rope_dims = 33, mode = #kiln<rope_mode normal>, freq_base = 10000.0 : f32, freq_scale = 1.0 : f32} : tensor<?x256xf32>
  return
}

// -----

func.func @slice(%x: tensor<?x256xf32>) {
  // expected-error @+1 {{columns [200, 328) are outside the input's 256}}
  %s = kiln.slice_columns %x[200] : tensor<?x256xf32> -> tensor<?x128xf32>
  return
}
