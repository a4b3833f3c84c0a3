//! Where the group places a new instance and which one it drains: pure
//! functions of the members (as EC2 Auto Scaling balances zones).

use proto::Lifecycle;

use super::group::Member;

/// The zone with the fewest live members (first listed on ties). Pure.
pub(super) fn pick_zone(zones: &[String], members: &[Member]) -> String {
    zones
        .iter()
        .min_by_key(|z| {
            members
                .iter()
                .filter(|m| m.is_live() && &m.zone == *z)
                .count()
        })
        .cloned()
        .unwrap_or_else(|| "local-a".into())
}

/// Which live member to drain: a pending one first (newest), else an in-service
/// one from the zone with the most live members, fewest active flows, newest. Pure.
pub(super) fn pick_victim(members: &[Member], flows: impl Fn(&str) -> u64) -> Option<usize> {
    let live: Vec<usize> = (0..members.len())
        .filter(|&i| members[i].is_live())
        .collect();
    if let Some(&i) = live
        .iter()
        .filter(|&&i| members[i].lifecycle == Lifecycle::Pending)
        .max_by_key(|&&i| members[i].launched_at_ms)
    {
        return Some(i);
    }
    let zone_size = |z: &str| live.iter().filter(|&&i| members[i].zone == z).count();
    live.iter().copied().min_by_key(|&i| {
        let m = &members[i];
        (
            std::cmp::Reverse(zone_size(&m.zone)),
            flows(&m.id),
            std::cmp::Reverse(m.launched_at_ms),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::Health;
    use tokio_util::sync::CancellationToken;

    fn member(id: &str, zone: &str, lifecycle: Lifecycle, launched: u64) -> Member {
        Member {
            id: id.into(),
            zone: zone.into(),
            addr: "127.0.0.1:1".parse().unwrap(),
            lifecycle,
            health: Health::Healthy,
            launched_at_ms: launched,
            in_service_at_ms: None,
            pid: None,
            reason: None,
            slot: 0,
            data_dir: std::path::PathBuf::new(),
            terminate: CancellationToken::new(),
        }
    }

    fn zones() -> Vec<String> {
        vec!["local-a".into(), "local-b".into()]
    }

    #[test]
    fn launches_balance_the_zones() {
        use Lifecycle::*;
        assert_eq!(pick_zone(&zones(), &[]), "local-a");
        let a = member("1", "local-a", InService, 1);
        assert_eq!(pick_zone(&zones(), std::slice::from_ref(&a)), "local-b");
        let gone = member("2", "local-b", Terminating, 2);
        gone.terminate.cancel();
        assert_eq!(pick_zone(&zones(), &[a.clone(), gone]), "local-b");
        let b = member("3", "local-b", InService, 3);
        assert_eq!(pick_zone(&zones(), &[a, b]), "local-a");
    }

    #[test]
    fn scale_in_takes_pending_first_then_the_biggest_zone() {
        use Lifecycle::*;
        let no_flows = |_: &str| 0;
        let ms = vec![
            member("1", "local-a", InService, 1),
            member("2", "local-b", InService, 2),
            member("3", "local-a", InService, 3),
            member("4", "local-b", Pending, 4),
        ];
        assert_eq!(pick_victim(&ms, no_flows), Some(3));
        // Without the pending one: local-a has two, take its newest.
        assert_eq!(pick_victim(&ms[..3], no_flows), Some(2));
        // Fewer flows beats newer within the biggest zone.
        let flows = |id: &str| if id == "3" { 5 } else { 1 };
        assert_eq!(pick_victim(&ms[..3], flows), Some(0));
        assert_eq!(pick_victim(&[], no_flows), None);
    }
}
