# /etc/profile.d/ckalab-kubectl.sh: the shell of the CKA exam: kubectl as
# `k`, with completion for both, and the cluster admin's kubeconfig.
export KUBECONFIG=${KUBECONFIG:-/etc/kubernetes/admin.conf}
alias k=kubectl
if [ -n "${BASH_VERSION:-}" ] && [ -f /usr/share/bash-completion/bash_completion ]; then
  . /usr/share/bash-completion/bash_completion
  source <(kubectl completion bash)
  complete -o default -F __start_kubectl k
fi
