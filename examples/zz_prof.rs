fn main() {
    let mut a = std::env::args().skip(1);
    let input = a.next().unwrap();
    let db = a.next().unwrap();
    let store = custdb::Store::open(&db).unwrap();
    let t = std::time::Instant::now();
    let r = store.import_retail_file(&input, |_| {}, |_| {}).unwrap();
    eprintln!("{:?} {:.2}s", r.created, t.elapsed().as_secs_f64());
}
