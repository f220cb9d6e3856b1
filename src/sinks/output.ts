// Where a command writes its result: stdout in the CLI, a buffer in tests. Below the commands
// (they import it from here, not from cli.ts, which imports them).

export interface Output {
  write(text: string): void;
}
