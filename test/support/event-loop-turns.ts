// test/support: counts event-loop turns while some work runs — proof that a chunked operation yielded instead of
// holding the loop in one block.

/** Counts event-loop turns (setImmediate callbacks) while `p` runs. */
export async function turnsDuring<T>(p: Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let on = true;
  const tick = (): void => {
    if (!on) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const value = await p;
  on = false;
  return { value, turns };
}
