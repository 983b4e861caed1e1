#!/bin/sh
# run_gradcheck.sh — the gradient of every op against central finite
# differences: one tiny f64 model per row of rows.txt, compiled by nnc,
# built with the runtime and run by gradcheck.c. Ends with `N passed, N
# failed`. Env: NNC, SRCDIR, CC, CFLAGS, LDFLAGS, RUNTIME_INC, RUNTIME_LIB.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../common.sh"
test_setup gradcheck "$(dirname "$(dirname "$here")")"

while IFS='|' read -r name params expr; do
  name=$(echo "$name" | tr -d ' ')
  case $name in '' | '#'*) continue ;; esac
  {
    echo 'fn pow_(x, y) { return (x * x + 1) ** y }'
    echo 'fn scan_rnn(x, w) {'
    echo '  hs, h = scan t in 0..dim(x, 1) carry (h = zeros([dim(x, 0), dim(x, 2)])) {'
    echo '    h = tanh(x[:, t] + h @ w)'
    echo '    yield h along 1'
    echo '  }'
    echo '  return hs'
    echo '}'
    echo 'fn scan_gated(x, w, b) {'
    echo '  hs, h = scan t in 0..dim(x, 1) carry (h = zeros([dim(x, 0), dim(x, 2)])) {'
    echo '    g = h @ w + b'
    echo '    h = tanh(x[:, t] + sigmoid(g[:, 0:3]) * g[:, 3:6])'
    echo '    yield h along 1'
    echo '  }'
    echo '  return hs'
    echo '}'
    echo 'fn scan_views(x, w) {'
    echo '  hs, h = scan t in 0..dim(x, 0) carry (h = zeros([dim(x, 1), 3])) {'
    echo '    xt = reshape(x[t], [dim(x, 1), 2, 3])'
    echo '    g = h @ w'
    echo '    h = tanh(sum(xt, axis = 1) + sigmoid(g[:, 0:3]) * xt[:, 1, :] + g[:, 3:6])'
    echo '    yield h along 0'
    echo '  }'
    echo '  return hs'
    echo '}'
    echo 'fn bn_train(x, axes, w, b) {'
    echo '  mu, v, v_unbiased = batch_moments(x, axes)'
    echo '  return batch_norm(x, mu, v, w, b)'
    echo '}'
    echo 'model G {'
    echo "$params" | tr ';' '\n' | sed -n 's/^ *\([a-z_0-9]*\): *\(.*[^ ]\) *$/  param \1: \2 = normal(0, 1)/p'
    echo '  train step() {'
    echo "    e = $expr"
    echo '    loss = sum(e * e) + sum(sin(e))'
    echo '    minimize loss with sgd(lr = 0.1)'
    echo '    return loss'
    echo '  }'
    echo '}'
  } >"$tmp/g.nn"
  if ! "$NNC" --dtype f64 "$tmp/g.nn" -o "$tmp/g.c" >"$tmp/log" 2>&1 ||
    ! $CC -std=c99 ${CFLAGS:-} -I "$RUNTIME_INC" -DMODEL_DESC=g_desc -include "$tmp/g.h" \
      "$tmp/g.c" "$here/gradcheck.c" "$RUNTIME_LIB" ${LDFLAGS:-} $RTLIBS \
      -o "$tmp/g" >>"$tmp/log" 2>&1; then
    echo "FAIL: $name: does not build"
    sed 's/^/  | /' "$tmp/log" | head -n 20
    sed 's/^/  > /' "$tmp/g.nn" | sed -n '13,24p'
    fail=$((fail + 1))
    continue
  fi
  if out=$("$tmp/g" 1e-6 2>&1); then
    echo "PASS: $name: $out"
    pass=$((pass + 1))
  else
    echo "FAIL: $name: $out"
    fail=$((fail + 1))
  fi
done <"$here/rows.txt"

test_finish
