"""Operations of the PTE model, one module per kernel area; eras differ by which they pick."""
