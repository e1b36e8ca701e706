// The flag loop the weftctl commands share. In: argv after the command. Out: one call per argument with its
// flag (`--name=value` split at the '='), the raw argument and a reader for the flag's value (inline, else the
// next argument; a missing or empty value is a usage error).
export function eachFlag(
  argv: string[],
  usage: (message: string) => Error,
  on: (flag: string, arg: string, value: () => string) => void,
): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const [flag, inline] = arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    on(flag, arg, () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw usage(`${flag} needs a value`);
      return v;
    });
  }
}
