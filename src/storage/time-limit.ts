/**
 * What `work` settles to, or, if it has not settled within `ms`, what `late`
 * returns or throws then. The work itself goes on; only the wait ends.
 */
export async function withinTime<T>(work: Promise<T>, ms: number, late: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    // An executor that throws rejects its promise: what `late` throws is the answer.
    timer = setTimeout(() => resolve(new Promise<T>((settle) => settle(late()))), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
