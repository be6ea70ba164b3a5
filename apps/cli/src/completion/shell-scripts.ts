// Completion scripts for bash and zsh. Both walk the typed words the same way: skip flags (and
// the value after a flag that takes one), follow subcommand names down the tree, then offer the
// subcommands and flags of the node reached, or the values of the flag just typed.
import type { CompletionTree } from './command-tree';

function quoteWords(words: readonly string[]): string {
  return words.join(' ');
}

function nodeCases(tree: CompletionTree): string {
  return tree.nodes
    .map(
      (n) => `    "${n.path.join(' ')}") echo "${quoteWords([...n.subcommands, ...n.flags])}" ;;`,
    )
    .join('\n');
}

function subcommandCases(tree: CompletionTree): string {
  return tree.nodes
    .filter((n) => n.subcommands.length > 0)
    .map((n) => `    "${n.path.join(' ')}") echo "${quoteWords(n.subcommands)}" ;;`)
    .join('\n');
}

function choiceCases(tree: CompletionTree): string {
  return tree.nodes
    .flatMap((n) =>
      Object.entries(n.choices).map(
        ([flag, values]) => `    "${n.path.join(' ')}|${flag}") echo "${quoteWords(values)}" ;;`,
      ),
    )
    .join('\n');
}

function shared(tree: CompletionTree): string {
  return `_muster_words() {
  case "$1" in
${nodeCases(tree)}
  esac
}

_muster_subcommands() {
  case "$1" in
${subcommandCases(tree)}
  esac
}

# Values of flag $2 in the command at path $1.
_muster_choices() {
  case "$1|$2" in
${choiceCases(tree)}
  esac
}

_muster_takes_value() {
  case "$1" in
    ${tree.valueFlags.join('|')}) return 0 ;;
  esac
  return 1
}

_muster_takes_file() {
  case "$1" in
    ${tree.fileFlags.join('|') || '__none__'}) return 0 ;;
  esac
  return 1
}

# The subcommand path of the words before the cursor, e.g. "clusters register".
_muster_path() {
  local cmdpath="" skip=0 w sub
  for w in "$@"; do
    if [ "$skip" = 1 ]; then skip=0; continue; fi
    case "$w" in
      -*=*) continue ;;
      -*) if _muster_takes_value "$w"; then skip=1; fi; continue ;;
    esac
    for sub in $(_muster_subcommands "$cmdpath"); do
      if [ "$sub" = "$w" ]; then cmdpath="\${cmdpath:+$cmdpath }$w"; break; fi
    done
  done
  echo "$cmdpath"
}`;
}

export function bashScript(tree: CompletionTree): string {
  return `# bash completion for muster. Load it with:
#   source <(muster completion bash)
# or keep it: muster completion bash > ~/.local/share/bash-completion/completions/muster
${shared(tree)}

_muster() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if _muster_takes_file "$prev"; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  local cmdpath
  cmdpath="$(_muster_path "\${COMP_WORDS[@]:1:COMP_CWORD-1}")"
  if _muster_takes_value "$prev"; then
    COMPREPLY=($(compgen -W "$(_muster_choices "$cmdpath" "$prev")" -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -W "$(_muster_words "$cmdpath")" -- "$cur"))
}

complete -o default -F _muster muster
`;
}

export function zshScript(tree: CompletionTree): string {
  return `#compdef muster
# zsh completion for muster. Load it with:
#   source <(muster completion zsh)
# or keep it on your fpath: muster completion zsh > "\${fpath[1]}/_muster"
${shared(tree)}

_muster() {
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}"
  if _muster_takes_file "$prev"; then
    _files
    return
  fi
  # Not "path": in zsh that name is tied to PATH.
  local cmdpath
  cmdpath="$(_muster_path "\${(@)words[2,CURRENT-1]}")"
  if _muster_takes_value "$prev"; then
    local -a values
    values=(\${(s: :)"$(_muster_choices "$cmdpath" "$prev")"})
    compadd -a values
    return
  fi
  local -a candidates
  candidates=(\${(s: :)"$(_muster_words "$cmdpath")"})
  compadd -a candidates
}

if [ "\${funcstack[1]}" = "_muster" ]; then
  _muster "$@"
else
  compdef _muster muster
fi
`;
}
