(* ptlimits, docs/theory.md §2 LB and §4 "Machine-checked lemmas": the counting inequality
   behind the capacity lower bound (core.bounds.min_prompt_length_exact / lower_bound_real;
   paper label thm:PT_memo, our formalisation).

   (1) Pigeonhole: if each of the 2^M packing members is served by its own prompt (no
       prompt is within < eps of two members), i.e. members -> prompts is injective, and
       there are K^(d L_p) prompts, then 2^M <= K^(d L_p).
   (2) Logarithms: K >= 2, d >= 1 and 2^M <= K^(d L_p) give L_p >= M / (d log2 K). *)
From mathcomp Require ssrfun ssrbool ssrnat fintype.
From Coq Require Import Reals Lra.

(* fintype.ordinal n is the finite type {0, ..., n-1}. *)
Theorem pigeonhole_count : forall (M K dLp : nat)
  (serve : fintype.ordinal (2 ^ M) -> fintype.ordinal (K ^ dLp)),
  ssrfun.injective serve -> (2 ^ M <= K ^ dLp)%nat.
Proof.
  intros M K dLp serve Hinj.
  pose proof (@fintype.leq_card (fintype.ordinal_finType (2 ^ M))
                (fintype.ordinal_finType (K ^ dLp)) serve Hinj) as H.
  rewrite !fintype.card_ord in H.
  exact (ssrbool.elimT ssrnat.leP H).
Qed.

Open Scope R_scope.

Theorem prompt_length_lower_bound : forall (M K d Lp : nat),
  (2 <= K)%nat -> (1 <= d)%nat -> (2 ^ M <= K ^ (d * Lp))%nat ->
  INR M / (INR d * (ln (INR K) / ln 2)) <= INR Lp.
Proof.
  intros M K d Lp HK Hd Hc.
  assert (HK' : 2 <= INR K) by (replace 2 with (INR 2) by (simpl; ring); apply le_INR; exact HK).
  assert (Hd' : 1 <= INR d) by (replace 1 with (INR 1) by reflexivity; apply le_INR; exact Hd).
  assert (Hln2 : 0 < ln 2) by (rewrite <- ln_1; apply ln_increasing; lra).
  assert (HlnK : ln 2 <= ln (INR K)).
  { destruct (Rle_lt_or_eq_dec 2 (INR K) HK') as [H | H];
      [left; apply ln_increasing; lra | rewrite H; right; reflexivity]. }
  (* 2^M <= K^(d Lp) in R, then logarithms *)
  assert (HR : 2 ^ M <= INR K ^ (d * Lp)).
  { replace 2 with (INR 2) by (simpl; ring). rewrite <- !pow_INR. apply le_INR. exact Hc. }
  assert (Hlog : INR M * ln 2 <= INR (d * Lp) * ln (INR K)).
  { rewrite <- ln_pow by lra. rewrite <- ln_pow by lra.
    destruct (Rle_lt_or_eq_dec _ _ HR) as [H | H];
      [left; apply ln_increasing; [apply pow_lt; lra | exact H] | rewrite H; right; reflexivity]. }
  rewrite mult_INR in Hlog.
  assert (Hden : 0 < INR d * (ln (INR K) / ln 2)).
  { apply Rmult_lt_0_compat; [lra | unfold Rdiv; apply Rmult_lt_0_compat;
      [lra | apply Rinv_0_lt_compat; lra]]. }
  apply (Rmult_le_reg_r (INR d * (ln (INR K) / ln 2))); [exact Hden |].
  unfold Rdiv. rewrite Rmult_assoc, Rinv_l by lra. rewrite Rmult_1_r.
  apply (Rmult_le_reg_r (ln 2)); [exact Hln2 |].
  replace (INR Lp * (INR d * (ln (INR K) * / ln 2)) * ln 2)
    with (INR d * INR Lp * ln (INR K) * (ln 2 * / ln 2)) by ring.
  rewrite Rinv_r by lra. lra.
Qed.
