(* ptlimits, docs/theory.md §3 K3 and §4 "Machine-checked lemmas": the kernel's error lemma
   (paper label thm:inference_linear), over finite sums.

   Keys j = 0..n with weights w j > 0, values |v j| <= V and relative perturbations
   |d j| <= eps < 1 of the weights. The perturbed normalised output minus the exact one is
   at most 2 eps / (1 + sqrt (1 - eps^2)) * V in absolute value:

     | S(w (1+d) v) / S(w (1+d)) - S(w v) / S(w) | <= 2 eps / (1 + sqrt (1 - eps^2)) * V,

   with S f = sum_{j=0}^n f j (sum_f_R0). The proof is the chord argument of docs/theory.md:
   for m = o + K (o the exact output, K the bound), 2V |v - m| <= (V-v)|V+m| + (V+v)|V-m|
   term by term; summed, the numerator minus K times the denominator is <= 0 by a scalar
   inequality whose equality case is the constant 2/(1 + sqrt (1 - eps^2)). *)
From Coq Require Import Reals Lra Psatz.
Open Scope R_scope.

Lemma Rabs_le_inv : forall x b, Rabs x <= b -> - b <= x <= b.
Proof. intros x b H; unfold Rabs in H; destruct (Rcase_abs x); lra. Qed.

(* Sums of the four kinds of terms the proof needs, in closed form. *)
Lemma sum_comb : forall (w v d : nat -> R) (a b c e : R) (n : nat),
  sum_f_R0 (fun j => a * w j + b * (w j * v j) + c * (w j * d j) + e * (w j * d j * v j)) n
  = a * sum_f_R0 w n + b * sum_f_R0 (fun j => w j * v j) n
    + c * sum_f_R0 (fun j => w j * d j) n + e * sum_f_R0 (fun j => w j * d j * v j) n.
Proof.
  intros w v d a b c e n; induction n as [|n IH]; simpl; [ring | rewrite IH; ring].
Qed.

Lemma sum_scal : forall (f : nat -> R) (c : R) (n : nat),
  sum_f_R0 (fun j => c * f j) n = c * sum_f_R0 f n.
Proof. intros f c n; induction n as [|n IH]; simpl; [ring | rewrite IH; ring]. Qed.

Lemma sum_pos : forall (w : nat -> R) (n : nat),
  (forall j, (j <= n)%nat -> 0 < w j) -> 0 < sum_f_R0 w n.
Proof.
  intros w n; induction n as [|n IH]; intros Hw; simpl.
  - apply Hw; lia.
  - assert (0 < sum_f_R0 w n) by (apply IH; intros j Hj; apply Hw; lia).
    assert (0 < w (S n)) by (apply Hw; lia). lra.
Qed.

(* The chord of the convex t |-> |t - m| over [-V, V] lies above it. *)
Lemma chord : forall V v m, Rabs v <= V ->
  2 * V * Rabs (v - m) <= (V - v) * Rabs (V + m) + (V + v) * Rabs (V - m).
Proof.
  intros V v m Hv.
  assert (Hl : -V <= v <= V) by (split; [apply Rabs_le_inv in Hv; lra |
                                          apply Rabs_le_inv in Hv; lra]).
  assert (E : 2 * V * (v - m) = (V + v) * (V - m) - (V - v) * (V + m)) by ring.
  assert (E' : 2 * V * Rabs (v - m) = Rabs ((V + v) * (V - m) - (V - v) * (V + m))).
  { rewrite <- E, Rabs_mult, Rabs_mult, (Rabs_pos_eq 2) by lra.
    rewrite (Rabs_pos_eq V) by lra. ring. }
  rewrite E'.
  eapply Rle_trans; [apply Rabs_triang|].
  rewrite Rabs_Ropp, !Rabs_mult, (Rabs_pos_eq (V + v)), (Rabs_pos_eq (V - v)) by lra. lra.
Qed.

(* The scalar core: with K = 2 eps V / (1 + sqrt (1 - eps^2)), |o| <= V and m = o + K,
   eps ((V-o)|V+m| + (V+o)|V-m|) <= 2 V K. *)
Lemma scalar_core : forall eps V o K,
  0 <= eps < 1 -> Rabs o <= V ->
  K = 2 * eps * V / (1 + sqrt (1 - eps ^ 2)) ->
  eps * ((V - o) * Rabs (V + (o + K)) + (V + o) * Rabs (V - (o + K))) <= 2 * V * K.
Proof.
  intros eps V o K He Ho HK.
  apply Rabs_le_inv in Ho.
  set (c := sqrt (1 - eps ^ 2)) in *.
  assert (Hc0 : 0 <= c) by apply sqrt_pos.
  assert (Hc2 : c * c = 1 - eps ^ 2) by (apply sqrt_sqrt; nra).
  assert (HK' : K * (1 + c) = 2 * eps * V) by (rewrite HK; field; lra).
  assert (HV : 0 <= V) by lra.
  assert (HK0 : 0 <= K) by (rewrite HK; apply Rmult_le_pos; [nra | ]; left;
                            apply Rinv_0_lt_compat; lra).
  (* eps (V^2 + K^2/4) = V K: the equality case of the constant *)
  assert (Hid : eps * (4 * V * V + K * K) = 4 * V * K).
  { assert (H1 : eps * (4 * V * V + K * K) * ((1 + c) * (1 + c))
                 = 4 * V * K * ((1 + c) * (1 + c))).
    { replace (eps * (4 * V * V + K * K) * ((1 + c) * (1 + c)))
        with (eps * (4 * V * V * ((1 + c) * (1 + c)) + (K * (1 + c)) * (K * (1 + c))))
        by ring.
      replace (4 * V * K * ((1 + c) * (1 + c))) with (4 * V * (K * (1 + c)) * (1 + c))
        by ring.
      rewrite HK'. replace (eps ^ 2) with (eps * eps) in Hc2 by ring.
      replace (eps * (4 * V * V * ((1 + c) * (1 + c)) + 2 * eps * V * (2 * eps * V)))
        with (8 * eps * V * V * (1 + c) + 4 * eps * V * V * (c * c - (1 - eps * eps)))
        by ring.
      rewrite Hc2. ring. }
    apply Rmult_eq_reg_r with ((1 + c) * (1 + c)); [exact H1 | nra]. }
  rewrite (Rabs_pos_eq (V + (o + K))) by lra.
  destruct (Rle_dec 0 (V - (o + K))) as [Hp | Hn].
  - rewrite (Rabs_pos_eq (V - (o + K))) by lra.
    (* eps (2V^2 - 2o^2 - 2oK) <= 2VK  <=  eps (o + K/2)^2 >= 0 and the identity *)
    assert (Hsq : 0 <= eps * ((2 * o + K) * (2 * o + K)))
      by (apply Rmult_le_pos; [lra | apply Rle_0_sqr]).
    (* LHS = eps (2V^2 - 2o^2 - 2oK) = (VK - eps (2o + K)^2 / 4) * 2 by the identity *)
    replace (eps * ((V - o) * (V + (o + K)) + (V + o) * (V - (o + K))))
      with ((eps * (4 * V * V + K * K) - eps * ((2 * o + K) * (2 * o + K))) / 2)
      by field.
    rewrite Hid. lra.
  - rewrite (Rabs_left (V - (o + K))) by lra.
    replace (eps * ((V - o) * (V + (o + K)) + (V + o) * - (V - (o + K))))
      with (2 * V * K * eps) by ring.
    assert (0 <= V * K) by (apply Rmult_le_pos; lra). nra.
Qed.

Theorem error_lemma : forall (n : nat) (w v d : nat -> R) (eps V : R),
  (forall j, (j <= n)%nat -> 0 < w j) ->
  (forall j, (j <= n)%nat -> Rabs (v j) <= V) ->
  (forall j, (j <= n)%nat -> Rabs (d j) <= eps) ->
  0 <= eps < 1 ->
  Rabs (sum_f_R0 (fun j => w j * (1 + d j) * v j) n / sum_f_R0 (fun j => w j * (1 + d j)) n
        - sum_f_R0 (fun j => w j * v j) n / sum_f_R0 w n)
  <= 2 * eps / (1 + sqrt (1 - eps ^ 2)) * V.
Proof.
  intros n w v d eps V Hw Hv Hd He.
  set (W := sum_f_R0 w n). set (S := sum_f_R0 (fun j => w j * v j) n).
  set (A := sum_f_R0 (fun j => w j * d j) n).
  set (B := sum_f_R0 (fun j => w j * d j * v j) n).
  set (c := sqrt (1 - eps ^ 2)).
  assert (Hc0 : 0 <= c) by apply sqrt_pos.
  set (K := 2 * eps * V / (1 + c)).
  assert (HW : 0 < W) by (apply sum_pos; exact Hw).
  assert (HV : 0 <= V) by (pose proof (Hv 0%nat (Nat.le_0_l n)); pose proof (Rabs_pos (v 0%nat)); lra).
  set (o := S / W).
  assert (HS : S = o * W) by (unfold o; field; lra).
  (* |o| <= V: S is a weighted mean of values in [-V, V] *)
  assert (Ho : Rabs o <= V).
  { assert (Hup : S <= V * W).
    { replace (V * W) with (sum_f_R0 (fun j => V * w j) n)
        by (unfold W; rewrite sum_scal; ring).
      apply sum_Rle; intros j Hj. specialize (Hw j Hj). specialize (Hv j Hj).
      apply Rabs_le_inv in Hv. nra. }
    assert (Hlo : - (V * W) <= S).
    { replace (- (V * W)) with (sum_f_R0 (fun j => - V * w j) n)
        by (unfold W; rewrite sum_scal; ring).
      apply sum_Rle; intros j Hj. specialize (Hw j Hj). specialize (Hv j Hj).
      apply Rabs_le_inv in Hv. nra. }
    apply Rabs_le. unfold o. split.
    - apply Rmult_le_reg_r with W; [lra|]. field_simplify; lra.
    - apply Rmult_le_reg_r with W; [lra|]. field_simplify; lra. }
  (* the perturbed denominator and numerator *)
  assert (EWp : sum_f_R0 (fun j => w j * (1 + d j)) n = W + A).
  { transitivity (sum_f_R0 (fun j => 1 * w j + 0 * (w j * v j) + 1 * (w j * d j)
                                     + 0 * (w j * d j * v j)) n);
      [apply sum_eq; intros; ring | rewrite sum_comb; unfold W, A; ring]. }
  assert (ESp : sum_f_R0 (fun j => w j * (1 + d j) * v j) n = S + B).
  { transitivity (sum_f_R0 (fun j => 0 * w j + 1 * (w j * v j) + 0 * (w j * d j)
                                     + 1 * (w j * d j * v j)) n);
      [apply sum_eq; intros; ring | rewrite sum_comb; unfold S, B; ring]. }
  assert (HA : Rabs A <= eps * W).
  { apply Rabs_le; split.
    - replace (- (eps * W)) with (sum_f_R0 (fun j => - eps * w j) n)
        by (unfold W; rewrite sum_scal; ring).
      apply sum_Rle; intros j Hj. specialize (Hw j Hj). specialize (Hd j Hj).
      apply Rabs_le_inv in Hd. nra.
    - replace (eps * W) with (sum_f_R0 (fun j => eps * w j) n)
        by (unfold W; rewrite sum_scal; ring).
      apply sum_Rle; intros j Hj. specialize (Hw j Hj). specialize (Hd j Hj).
      apply Rabs_le_inv in Hd. nra. }
  assert (HWp : 0 < W + A) by (apply Rabs_le_inv in HA; nra).
  (* N = B - o A is the perturbed output minus the exact one, times W + A *)
  assert (Ediff : (S + B) / (W + A) - o = (B - o * A) / (W + A)).
  { rewrite HS. field. lra. }
  rewrite ESp, EWp, Ediff.
  (* upper: B - o A <= K (W + A); lower: -(B - o A) <= K (W + A) *)
  assert (HK0 : 0 <= K)
    by (unfold K; apply Rmult_le_pos; [nra | left; apply Rinv_0_lt_compat; lra]).
  assert (Hsum : forall sg, (sg = 1 \/ sg = -1) ->
            2 * V * (sg * (B - o * A) - K * (W + A)) <= 0).
  { intros sg Hsg.
    assert (Hsg2 : sg * sg = 1) by (destruct Hsg as [-> | ->]; ring).
    assert (Hso : Rabs (sg * o) <= V)
      by (destruct Hsg as [-> | ->]; [replace (1 * o) with o by ring |
          replace (-1 * o) with (- o) by ring; rewrite Rabs_Ropp]; exact Ho).
    set (m := sg * o + K).
    assert (Hm : 0 <= V + m) by (unfold m; apply Rabs_le_inv in Hso; lra).
    assert (Hterm : forall j, (j <= n)%nat ->
      2 * V * (sg * (w j * d j * v j) - sg * o * (w j * d j) - K * w j - K * (w j * d j))
      <= eps * (V + m) * (V * w j - sg * (w j * v j))
         + eps * Rabs (V - m) * (V * w j + sg * (w j * v j)) - 2 * V * K * w j).
    { intros j Hj. specialize (Hw j Hj). specialize (Hv j Hj). specialize (Hd j Hj).
      assert (Hsv : Rabs (sg * v j) <= V)
        by (destruct Hsg as [-> | ->]; [replace (1 * v j) with (v j) by ring |
            replace (-1 * v j) with (- v j) by ring; rewrite Rabs_Ropp]; exact Hv).
      pose proof (chord V (sg * v j) m Hsv) as Hch.
      rewrite (Rabs_pos_eq (V + m)) in Hch by exact Hm.
      assert (Hdv : d j * (sg * v j - m) <= eps * Rabs (sg * v j - m)).
      { eapply Rle_trans; [apply Rle_abs|]. rewrite Rabs_mult.
        apply Rmult_le_compat_r; [apply Rabs_pos | exact Hd]. }
      replace (2 * V * (sg * (w j * d j * v j) - sg * o * (w j * d j) - K * w j
                        - K * (w j * d j)))
        with (w j * (2 * V * (d j * (sg * v j - m)) - 2 * V * K)) by (unfold m; ring).
      replace (eps * (V + m) * (V * w j - sg * (w j * v j))
               + eps * Rabs (V - m) * (V * w j + sg * (w j * v j)) - 2 * V * K * w j)
        with (w j * (eps * ((V - sg * v j) * (V + m) + (V + sg * v j) * Rabs (V - m))
                     - 2 * V * K)) by ring.
      apply Rmult_le_compat_l; [lra|].
      assert (0 <= eps) by lra. nra. }
    pose proof (sum_Rle _ _ n Hterm) as Hs.
    assert (EL : sum_f_R0 (fun j => 2 * V * (sg * (w j * d j * v j) - sg * o * (w j * d j)
                                       - K * w j - K * (w j * d j))) n
                 = 2 * V * (sg * (B - o * A) - K * (W + A))).
    { transitivity (sum_f_R0 (fun j => (- (2 * V * K)) * w j + 0 * (w j * v j)
                     + (2 * V * (- (sg * o) - K)) * (w j * d j)
                     + (2 * V * sg) * (w j * d j * v j)) n);
        [apply sum_eq; intros; ring | rewrite sum_comb; unfold W, A, B; ring]. }
    assert (ER : sum_f_R0 (fun j => eps * (V + m) * (V * w j - sg * (w j * v j))
                   + eps * Rabs (V - m) * (V * w j + sg * (w j * v j)) - 2 * V * K * w j) n
                 = W * (eps * ((V - sg * o) * Rabs (V + (sg * o + K))
                               + (V + sg * o) * Rabs (V - (sg * o + K))) - 2 * V * K)).
    { rewrite (Rabs_pos_eq (V + (sg * o + K))) by (fold m; exact Hm). fold m.
      transitivity (sum_f_R0 (fun j =>
                     (eps * (V + m) * V + eps * Rabs (V - m) * V - 2 * V * K) * w j
                     + (eps * Rabs (V - m) * sg - eps * (V + m) * sg) * (w j * v j)
                     + 0 * (w j * d j) + 0 * (w j * d j * v j)) n);
        [apply sum_eq; intros; ring | rewrite sum_comb]. fold W S. rewrite HS. ring. }
    rewrite EL, ER in Hs.
    pose proof (scalar_core eps V (sg * o) K He Hso eq_refl) as Hc.
    assert (0 <= W * (2 * V * K - eps * ((V - sg * o) * Rabs (V + (sg * o + K))
                               + (V + sg * o) * Rabs (V - (sg * o + K))))) by
      (apply Rmult_le_pos; lra).
    lra. }
  pose proof (Hsum 1 (or_introl eq_refl)) as Hu.
  pose proof (Hsum (-1) (or_intror eq_refl)) as Hl.
  replace (2 * eps / (1 + c) * V) with K by (unfold K; field; lra).
  assert (HN : Rabs (B - o * A) <= K * (W + A)).
  { destruct (Req_dec V 0) as [H0 | H0].
    - (* V = 0: every value is 0, so is the numerator *)
      assert (HBS : B = 0 /\ S = 0).
      { assert (Hz : forall j, (j <= n)%nat -> v j = 0).
        { intros j Hj. specialize (Hv j Hj). rewrite H0 in Hv.
          apply Rabs_le_inv in Hv. lra. }
        split; [unfold B | unfold S];
          (transitivity (sum_f_R0 (fun _ => 0) n);
           [apply sum_eq; intros j Hj; rewrite (Hz j Hj); ring |
            clear; induction n as [|n IH]; simpl; [ring | rewrite IH; ring]]). }
      destruct HBS as [-> HS0]. unfold o. rewrite HS0.
      replace (0 - 0 / W * A) with 0 by (field; lra). rewrite Rabs_R0.
      apply Rmult_le_pos; lra.
    - assert (0 < V) by lra. apply Rabs_le. split; nra. }
  unfold Rdiv. rewrite Rabs_mult, (Rabs_pos_eq (/ (W + A)))
    by (left; apply Rinv_0_lt_compat; lra).
  apply Rmult_le_reg_r with (W + A); [lra|].
  rewrite Rmult_assoc, Rinv_l by lra. lra.
Qed.
