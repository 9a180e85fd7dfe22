"""fastai 2.7's ranger (Lookahead(RAdam)) and its schedules, written out with torch
ops as fastai's optimizer.py and callback/schedule.py compute them, as the reference
for tests/test_train_optim.c.

usage: ranger_ref.py IN.safetensors OUT.safetensors
IN holds p0 (n) F32, grads (steps, n) F32, decay (n) U8, use_lr and use_mom (steps)
F64, and metadata lr_max, schedule (one-cycle | flat-cos | none: then lr_max and mom
are constant), mom, sqr_mom, eps, wd, k, alpha. The steps run at use_lr/use_mom (the
caller's schedule, so that the optimizer is compared alone: fastai's own schedule
rounds the position within a phase to float32, a 1e-6 effect); OUT gets params (n) F32
after the steps, and lr, mom (steps) F64 as fastai's schedule gives them."""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "share"))
import st_py  # noqa: E402  (share/st_py.py, beside convert_pth.py)


def sched_cos(start, end, pos):
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def combined_cos(pct, start, middle, end):
    pcts = torch.cumsum(torch.tensor([0, pct, 1 - pct]), 0)
    scheds = [lambda p: sched_cos(start, middle, p), lambda p: sched_cos(middle, end, p)]

    def inner(pos):
        idx = min((pos >= pcts).nonzero().max(), len(pcts) - 2)
        actual = (pos - pcts[idx]) / (pcts[idx + 1] - pcts[idx])
        return scheds[idx](actual.item())
    return inner


def debias(mom, damp, step):
    return damp * (1 - mom**step) / (1 - mom)


def main():
    t, meta = st_py.load(sys.argv[1])
    p = torch.tensor(t["p0"])
    grads = torch.tensor(t["grads"])
    do_wd = torch.tensor(t["decay"]).bool()
    steps = grads.shape[0]
    lr_max, sched = float(meta["lr_max"]), meta["schedule"]
    sqr_mom, eps, wd = float(meta["sqr_mom"]), float(meta["eps"]), float(meta["wd"])
    k, alpha = int(meta["k"]), float(meta["alpha"])
    if sched == "one-cycle":
        lr_f = combined_cos(0.25, lr_max / 25, lr_max, lr_max / 1e5)
        mom_f = combined_cos(0.25, 0.95, 0.85, 0.95)
    elif sched == "flat-cos":
        lr_f = combined_cos(0.75, lr_max, lr_max, lr_max / 1e5)
        mom_f = lambda pos: float(meta["mom"])  # noqa: E731
    else:
        lr_f = lambda pos: lr_max  # noqa: E731
        mom_f = lambda pos: float(meta["mom"])  # noqa: E731

    # Two parameter tensors, as fastai keeps state per tensor: decayed and exempt.
    groups = [do_wd, ~do_wd]
    ps = [p[g].clone() for g in groups]
    state = [dict() for _ in ps]
    slow = None
    lrs, moms = [], []
    for it in range(steps):
        pos = it / steps
        lrs.append(lr_f(pos))
        moms.append(mom_f(pos))
        lr, mom = float(t["use_lr"][it]), float(t["use_mom"][it])
        if slow is None:
            slow = [q.clone() for q in ps]
        for j, (q, g_mask) in enumerate(zip(ps, groups)):
            g = grads[it][g_mask]
            st = state[j]
            if j == 0 and wd != 0:
                q.mul_(1 - lr * wd)                       # weight_decay (true_wd)
            ga = st.get("grad_avg", torch.zeros_like(g))  # average_grad, dampening
            ga.mul_(mom).add_(g, alpha=1 - mom)
            sa = st.get("sqr_avg", torch.zeros_like(g))   # average_sqr_grad
            sa.mul_(sqr_mom).addcmul_(g, g, value=1 - sqr_mom)
            step = st.get("step", 0) + 1                  # step_stat
            st.update(grad_avg=ga, sqr_avg=sa, step=step)
            debias1 = debias(mom, 1 - mom, step)          # radam_step
            debias2 = debias(sqr_mom, 1 - sqr_mom, step)
            r_inf = 2 / (1 - sqr_mom) - 1
            r = r_inf - 2 * step * sqr_mom**step / (1 - sqr_mom**step)
            if r > 5:
                v = math.sqrt(((r - 4) * (r - 2) * r_inf) / ((r_inf - 4) * (r_inf - 2) * r))
                denom = (sa / debias2).sqrt()
                if eps:
                    denom += eps
                q.addcdiv_(ga, denom, value=-lr * v / debias1)
            else:
                q.add_(ga, alpha=-lr / debias1)
        if (it + 1) % k == 0:                             # Lookahead
            for s, q in zip(slow, ps):
                s.add_(q - s, alpha=alpha)
                q.copy_(s)
    out = torch.empty_like(p)
    for q, g_mask in zip(ps, groups):
        out[g_mask] = q
    st_py.save(sys.argv[2], {"params": out.numpy(),
                             "lr": torch.tensor(lrs, dtype=torch.float64).numpy(),
                             "mom": torch.tensor(moms, dtype=torch.float64).numpy()})


if __name__ == "__main__":
    main()
