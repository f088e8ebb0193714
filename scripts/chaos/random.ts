/** A small seeded generator, so a failing run can be repeated with `--seed`. */
let state = 1;

export function seedRandom(seed: number): void {
  state = seed;
}

export function random(): number {
  state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
  return state / 2 ** 31;
}

/** An integer in [min, max]. */
export const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));

/** One of `items`. */
export const pick = <T>(items: readonly T[]): T => items[between(0, items.length - 1)]!;
