"""Operations end to end on the simulated Aurora through the engine and the drivers; the final AWS state is asserted."""
