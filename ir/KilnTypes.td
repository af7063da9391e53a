//===- KilnTypes.td - kiln types ---------------------------------*- tablegen -*-===//

#ifndef KILN_TYPES
#define KILN_TYPES

include "KilnDialect.td"

class Kiln_Type<string name, string typeMnemonic> : TypeDef<Kiln_Dialect, name> {
  let mnemonic = typeMnemonic;
}

def Kiln_WeightType : Kiln_Type<"Weight", "weight"> {
  let summary = "a model weight stored in a GGUF block format";
  let description = [{
    A weight of logical shape `[rows, cols]` (or `[cols]` for vectors),
    row-major, stored as `format` blocks along each row: `cols` is GGUF's
    `ne[0]`. A matmul against a `[N, K]` weight maps K features to N.

    Example: `!kiln.weight<[1000, 256], q8_0>`
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "logical shape, rows first">:$shape,
    EnumParameter<Kiln_WeightFormat>:$format
  );
  let assemblyFormat = "`<` `[` $shape `]` `,` $format `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getRows() const { return getShape().size() == 2 ? getShape()[0] : 1; }
    int64_t getCols() const { return getShape().back(); }
  }];
}

#endif // KILN_TYPES
