(* ptlimits, docs/theory.md §3 K1 and §4 "Machine-checked lemmas": Lagrange's bound on the
   relative error of the Taylor polynomial of exp, used for degree selection
   (core.kernels.polynomial.taylor_remainder_bound / taylor_degree; paper label
   thm:inference_linear):

     for every g and |x| <= R,  | T_g(x) e^(-x) - 1 | <= e^R R^(g+1) / (g+1)!,
     T_g(x) = sum_{k=0}^g x^k / k!.

   Proof: Coquelicot's Taylor_Lagrange, around 0, for exp (x > 0) and for t |-> exp (-t)
   at -x (x < 0). The remainder is x^(g+1)/(g+1)! e^zeta with zeta between 0 and x, so the
   relative error is |x|^(g+1)/(g+1)! e^(zeta - x) and e^(zeta - x) <= e^R. *)
From Coq Require Import Reals Lra.
From Coquelicot Require Import Coquelicot.
Open Scope R_scope.

Lemma Dn_exp : forall n x, Derive_n exp n x = exp x.
Proof. intros n x. apply is_derive_n_unique, is_derive_n_exp. Qed.

Lemma exn_exp : forall k x, ex_derive_n exp k x.
Proof.
  intros [|k] x; simpl; [exact I|].
  apply (ex_derive_ext exp); [intros t; symmetry; apply Dn_exp|].
  exists (exp x). apply is_derive_exp.
Qed.

Lemma fact_pos : forall g, 0 < INR (fact g).
Proof. intros g. apply lt_0_INR, lt_O_fact. Qed.

(* The remainder identity on each side of 0. *)
Lemma taylor_pos : forall g y, 0 < y -> exists z, 0 < z < y /\
  exp y = sum_f_R0 (fun k => y ^ k / INR (fact k)) g + y ^ (S g) / INR (fact (S g)) * exp z.
Proof.
  intros g y Hy.
  destruct (Taylor_Lagrange exp g 0 y Hy (fun t _ k _ => exn_exp k t)) as [z [Hz E]].
  exists z; split; [exact Hz|]. rewrite E, Dn_exp, Rminus_0_r. f_equal.
  apply sum_eq; intros k _. rewrite Dn_exp, exp_0. ring.
Qed.

Lemma taylor_neg : forall g y, y < 0 -> exists z, 0 < z < - y /\
  exp y = sum_f_R0 (fun k => y ^ k / INR (fact k)) g + y ^ (S g) / INR (fact (S g)) * exp (- z).
Proof.
  intros g y Hy.
  set (f := fun t => exp (- t)).
  assert (Df : forall n t, Derive_n f n t = (-1) ^ n * exp (- t)).
  { intros n t. unfold f. rewrite (Derive_n_comp_opp exp n t).
    - rewrite Dn_exp. reflexivity.
    - apply filter_forall. intros u k _. apply exn_exp. }
  assert (Ef : forall n t, ex_derive_n f n t).
  { intros n t. unfold f. apply ex_derive_n_comp_opp.
    apply filter_forall. intros u k _. apply exn_exp. }
  assert (Hy' : 0 < - y) by lra.
  destruct (Taylor_Lagrange f g 0 (- y) Hy' (fun t _ k _ => Ef k t)) as [z [Hz E]].
  exists z; split; [exact Hz|].
  replace (exp y) with (f (- y)) by (unfold f; rewrite Ropp_involutive; reflexivity).
  rewrite E, Df, Rminus_0_r. f_equal.
  - apply sum_eq; intros k _. rewrite Df, Ropp_0, exp_0.
    replace ((- y) ^ k) with ((-1) ^ k * y ^ k)
      by (rewrite <- Rpow_mult_distr; f_equal; ring).
    replace ((-1) ^ k * y ^ k / INR (fact k) * ((-1) ^ k * 1))
      with (((-1) ^ k * (-1) ^ k) * (y ^ k / INR (fact k))) by (unfold Rdiv; ring).
    rewrite <- Rpow_mult_distr. replace (-1 * -1) with 1 by ring. rewrite pow1. ring.
  - replace ((- y) ^ S g) with ((-1) ^ S g * y ^ S g)
      by (rewrite <- Rpow_mult_distr; f_equal; ring).
    replace ((-1) ^ S g * y ^ S g / INR (fact (S g)) * ((-1) ^ S g * exp (- z)))
      with (((-1) ^ S g * (-1) ^ S g) * (y ^ S g / INR (fact (S g)) * exp (- z)))
      by (unfold Rdiv; ring).
    rewrite <- Rpow_mult_distr. replace (-1 * -1) with 1 by ring. rewrite pow1. ring.
Qed.

(* The last step on both sides: |x|^(g+1)/(g+1)! e^u <= e^R R^(g+1)/(g+1)! for u <= R. *)
Lemma finish : forall g x R u, Rabs x <= R -> u <= R ->
  Rabs (- (x ^ S g / INR (fact (S g)) * exp u)) <= exp R * R ^ S g / INR (fact (S g)).
Proof.
  intros g x R u Hx Hu.
  assert (HF := fact_pos (S g)).
  rewrite Rabs_Ropp. unfold Rdiv.
  rewrite !Rabs_mult, <- RPow_abs, (Rabs_pos_eq (/ _)) by (left; apply Rinv_0_lt_compat; exact HF).
  rewrite (Rabs_pos_eq (exp u)) by (left; apply exp_pos).
  assert (Hp : Rabs x ^ S g <= R ^ S g) by (apply pow_incr; split; [apply Rabs_pos | exact Hx]).
  assert (He : exp u <= exp R)
    by (destruct (Rle_lt_or_eq_dec u R Hu) as [H | ->]; [left; apply exp_increasing, H | right; reflexivity]).
  assert (0 <= Rabs x ^ S g) by (apply pow_le, Rabs_pos).
  assert (0 < / INR (fact (S g))) by (apply Rinv_0_lt_compat; exact HF).
  assert (0 < exp u) by apply exp_pos.
  replace (exp R * R ^ S g * / INR (fact (S g)))
    with (R ^ S g * / INR (fact (S g)) * exp R) by ring.
  apply Rmult_le_compat; [apply Rmult_le_pos; lra | lra | | exact He].
  apply Rmult_le_compat_r; lra.
Qed.

Lemma sum_at_0 : forall g, sum_f_R0 (fun k => 0 ^ k / INR (fact k)) g = 1.
Proof.
  induction g as [|g IH]; simpl sum_f_R0; [simpl; field |].
  rewrite IH. replace (0 ^ S g) with 0 by (simpl; ring). unfold Rdiv. ring.
Qed.

Theorem taylor_remainder : forall (g : nat) (R x : R), Rabs x <= R ->
  Rabs (sum_f_R0 (fun k => x ^ k / INR (fact k)) g * exp (- x) - 1)
  <= exp R * R ^ (S g) / INR (fact (S g)).
Proof.
  intros g R x Hx.
  assert (Hxx : exp x * exp (- x) = 1) by (rewrite <- exp_plus, Rplus_opp_r; apply exp_0).
  assert (HR := Rle_trans _ _ _ (Rabs_pos x) Hx).
  destruct (Rtotal_order x 0) as [Hn | [H0 | Hpos]].
  - destruct (taylor_neg g x Hn) as [z [Hz E]].
    set (T := sum_f_R0 (fun k => x ^ k / INR (fact k)) g) in *.
    replace (T * exp (- x) - 1) with (- (x ^ S g / INR (fact (S g)) * exp (- z + - x))).
    + apply finish; [exact Hx | rewrite Rabs_left in Hx; lra].
    + replace T with (exp x - x ^ S g / INR (fact (S g)) * exp (- z)) by lra.
      rewrite (exp_plus (- z) (- x)).
      replace ((exp x - x ^ S g / INR (fact (S g)) * exp (- z)) * exp (- x) - 1)
        with (exp x * exp (- x) - 1 - x ^ S g / INR (fact (S g)) * (exp (- z) * exp (- x)))
        by ring.
      rewrite Hxx. ring.
  - subst x. rewrite sum_at_0, Ropp_0, exp_0.
    replace (1 * 1 - 1) with 0 by ring. rewrite Rabs_R0.
    assert (HF := fact_pos (S g)). unfold Rdiv.
    apply Rmult_le_pos; [apply Rmult_le_pos; [left; apply exp_pos | apply pow_le; exact HR]
                        | left; apply Rinv_0_lt_compat; exact HF].
  - destruct (taylor_pos g x Hpos) as [z [Hz E]].
    set (T := sum_f_R0 (fun k => x ^ k / INR (fact k)) g) in *.
    replace (T * exp (- x) - 1) with (- (x ^ S g / INR (fact (S g)) * exp (z + - x))).
    + apply finish; [exact Hx | lra].
    + replace T with (exp x - x ^ S g / INR (fact (S g)) * exp z) by lra.
      rewrite (exp_plus z (- x)).
      replace ((exp x - x ^ S g / INR (fact (S g)) * exp z) * exp (- x) - 1)
        with (exp x * exp (- x) - 1 - x ^ S g / INR (fact (S g)) * (exp z * exp (- x)))
        by ring.
      rewrite Hxx. ring.
Qed.
