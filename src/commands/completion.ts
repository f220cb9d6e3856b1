// `nodetop completion bash|zsh`: a completion script for commands, flags and the pids of Node
// processes (`nodetop ps --pids`, which reads /proc only: completing a pid attaches to nothing).
// zsh gets the bash function through bashcompinit, so both shells complete the same words.

import { listNodeProcesses } from '../platform/ps';
import type { Output } from '../sinks/output';

export interface CompletionSpec {
  /** command -> its flags (long and short) */
  commands: Record<string, string[]>;
  /** commands whose operands are pids */
  pidCommands: string[];
  /** commands whose operands are files */
  fileCommands: string[];
}

const quote = (words: string[]): string => words.map((w) => w.replace(/[^\w@%+=:,./-]/g, '')).join(' ');

export function completionScript(shell: 'bash' | 'zsh', spec: CompletionSpec): string {
  const cases = Object.entries(spec.commands)
    .map(([c, flags]) => `    ${c}) opts="${quote(flags)}" ;;`)
    .join('\n');
  const fn = `# nodetop completion (${shell}): commands, flags, and the pids of Node processes
_nodetop() {
  local cur cmd opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${quote(Object.keys(spec.commands))} help --help --version" -- "$cur") )
    return 0
  fi
  case "$cmd" in
${cases}
    *) opts="" ;;
  esac
  case "$cur" in
    -*) COMPREPLY=( $(compgen -W "$opts" -- "$cur") ); return 0 ;;
  esac
  case "$cmd" in
    ${spec.pidCommands.join('|')}) COMPREPLY=( $(compgen -W "$(nodetop ps --pids 2>/dev/null)" -- "$cur") ) ;;
    ${spec.fileCommands.join('|')}) COMPREPLY=( $(compgen -f -- "$cur") ) ;;
    completion) COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") ) ;;
    help) COMPREPLY=( $(compgen -W "${quote(Object.keys(spec.commands))}" -- "$cur") ) ;;
  esac
  return 0
}
`;
  if (shell === 'bash') return `${fn}complete -F _nodetop nodetop\n`;
  return `${fn}autoload -U +X bashcompinit && bashcompinit
complete -F _nodetop nodetop
`;
}

/** The pids of the Node processes /proc shows (yours with `mine`), one a line. */
export async function printPids(mine: boolean, out: Output): Promise<void> {
  const uid = process.getuid?.();
  const list = await listNodeProcesses({ cpuWindowMs: 0, ...(mine && uid !== undefined ? { uid } : {}) });
  out.write(list.map((p) => String(p.pid)).join('\n'));
}
